using System;
using System.Collections;
using System.Globalization;
using System.Management.Automation;

namespace CloseWait.Commands
{
    /// <summary>
    /// Lets a TimeSpan parameter take a plain number as seconds (-Time 300 means 00:05:00).
    /// PowerShell alone would read 300 as 300 ticks, a trap for every script that passes a number.
    /// Also takes a TimeSpan as ConvertTo-Json writes it and ConvertFrom-Json reads it back (an
    /// object with Ticks and TotalSeconds), so a JSON baseline binds by property name.
    /// </summary>
    [AttributeUsage(AttributeTargets.Field | AttributeTargets.Property)]
    public sealed class SecondsToTimeSpanAttribute : ArgumentTransformationAttribute
    {
        public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
        {
            object? value = inputData is PSObject pso ? pso.BaseObject : inputData;
            switch (value)
            {
                case null:
                    return null;
                case TimeSpan ts:
                    return ts;
                case int i:
                    return Seconds(i, value);
                case long l:
                    return Seconds(l, value);
                case uint u:
                    return Seconds(u, value);
                case double d:
                    return Seconds(d, value);
                case decimal m:
                    return Seconds((double)m, value);
                case string s:
                    string t = s.Trim();
                    if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double secs))
                    {
                        return Seconds(secs, s);
                    }

                    if (TimeSpan.TryParse(t, CultureInfo.InvariantCulture, out TimeSpan parsed))
                    {
                        return parsed;
                    }

                    throw new ArgumentTransformationMetadataException(
                        $"'{s}' is not a time span. Give seconds (300) or hh:mm:ss (00:05:00).");
                case float f:
                    return Seconds(f, value);
                case short _:
                case ushort _:
                case byte _:
                case sbyte _:
                case ulong _:
                    return Seconds(Convert.ToDouble(value, CultureInfo.InvariantCulture), value);
                default:
                    if (FromTimeSpanShape(inputData) is TimeSpan shaped)
                    {
                        return shaped;
                    }

                    // PowerShell's own conversion answers these with .NET texts ("Invalid cast from
                    // 'System.Boolean' to 'System.TimeSpan'", "Specified method is not supported").
                    throw new ArgumentTransformationMetadataException(value is IEnumerable
                        ? "Give one time span, not a list: seconds (300) or hh:mm:ss (00:05:00)."
                        : $"'{value}' ({value.GetType().Name}) is not a time span. Give seconds (300) or hh:mm:ss (00:05:00).");
            }
        }

        /// <summary>
        /// TimeSpan.FromSeconds throws its own texts ("TimeSpan overflowed because the duration is too
        /// long", "does not accept floating point Not-a-Number values"): say instead what to give.
        /// </summary>
        private static TimeSpan Seconds(double seconds, object? given)
        {
            // TimeSpan.MaxValue.TotalSeconds itself rounds up past the limit: stay one second below it.
            if (double.IsNaN(seconds) || Math.Abs(seconds) >= TimeSpan.MaxValue.TotalSeconds - 1)
            {
                throw new ArgumentTransformationMetadataException(string.Format(CultureInfo.InvariantCulture,
                    "'{0}' is not a usable time span: give seconds (300) or hh:mm:ss (00:05:00).", given));
            }

            // A time span holds 100 ns ticks: a finer value (1e-9) would be rounded without a word.
            double ticks = seconds * TimeSpan.TicksPerSecond;
            if (Math.Abs(ticks - Math.Round(ticks)) > 1e-3 * Math.Max(1, Math.Abs(ticks) / 1e9))
            {
                throw new ArgumentTransformationMetadataException(string.Format(CultureInfo.InvariantCulture,
                    "'{0}' is finer than a time span holds (100 ns): give whole seconds, or a fraction of at most 7 decimals.", given));
            }

            return TimeSpan.FromTicks((long)Math.Round(ticks));
        }

        /// <summary>An object or dictionary with Ticks (preferred) or TotalSeconds, as a TimeSpan after a JSON round trip is.</summary>
        private static TimeSpan? FromTimeSpanShape(object? input)
        {
            object? ticks;
            object? seconds;
            if (input is PSObject pso && pso.BaseObject is PSCustomObject)
            {
                ticks = pso.Properties["Ticks"]?.Value;
                seconds = pso.Properties["TotalSeconds"]?.Value;
            }
            else if ((input is PSObject wrapped ? wrapped.BaseObject : input) is IDictionary dictionary)
            {
                ticks = dictionary.Contains("Ticks") ? dictionary["Ticks"] : null;
                seconds = dictionary.Contains("TotalSeconds") ? dictionary["TotalSeconds"] : null;
            }
            else
            {
                return null;
            }

            try
            {
                if (ticks != null)
                {
                    return TimeSpan.FromTicks(Convert.ToInt64(ticks is PSObject t ? t.BaseObject : ticks, CultureInfo.InvariantCulture));
                }

                if (seconds != null)
                {
                    return Seconds(Convert.ToDouble(seconds is PSObject s ? s.BaseObject : seconds, CultureInfo.InvariantCulture), input);
                }
            }
            catch (Exception e) when (e is FormatException || e is InvalidCastException || e is OverflowException)
            {
                throw new ArgumentTransformationMetadataException($"'{input}' is not a time span: its Ticks or TotalSeconds is not a number.", e);
            }

            return null;
        }
    }
}
