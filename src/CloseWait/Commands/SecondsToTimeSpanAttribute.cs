using System;
using System.Globalization;
using System.Management.Automation;

namespace CloseWait.Commands
{
    /// <summary>
    /// Lets a TimeSpan parameter take a plain number as seconds (-Time 300 means 00:05:00).
    /// PowerShell alone would read 300 as 300 ticks, a trap for every script that passes a number.
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
                    return value;
            }
        }
    }
}
