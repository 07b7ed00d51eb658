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
                    return TimeSpan.FromSeconds(i);
                case long l:
                    return TimeSpan.FromSeconds(l);
                case uint u:
                    return TimeSpan.FromSeconds(u);
                case double d:
                    return TimeSpan.FromSeconds(d);
                case decimal m:
                    return TimeSpan.FromSeconds((double)m);
                case string s:
                    string t = s.Trim();
                    if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double secs))
                    {
                        return TimeSpan.FromSeconds(secs);
                    }

                    if (TimeSpan.TryParse(t, CultureInfo.InvariantCulture, out TimeSpan parsed))
                    {
                        return parsed;
                    }

                    throw new ArgumentTransformationMetadataException(
                        $"'{s}' is not a time span. Give seconds (300) or hh:mm:ss (00:05:00).");
                default:
                    return FromTimeSpanShape(inputData) ?? value;
            }
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
                    return TimeSpan.FromSeconds(Convert.ToDouble(seconds is PSObject s ? s.BaseObject : seconds, CultureInfo.InvariantCulture));
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
