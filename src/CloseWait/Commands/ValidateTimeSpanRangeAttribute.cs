using System;
using System.Globalization;
using System.Management.Automation;

namespace CloseWait.Commands
{
    /// <summary>Validates a TimeSpan parameter against a range given in seconds, naming the limit when it fails.</summary>
    [AttributeUsage(AttributeTargets.Field | AttributeTargets.Property)]
    public sealed class ValidateTimeSpanRangeAttribute : ValidateArgumentsAttribute
    {
        public ValidateTimeSpanRangeAttribute(double minimumSeconds, double maximumSeconds)
        {
            MinimumSeconds = minimumSeconds;
            MaximumSeconds = maximumSeconds;
        }

        public double MinimumSeconds { get; }

        public double MaximumSeconds { get; }

        protected override void Validate(object arguments, EngineIntrinsics engineIntrinsics)
        {
            object value = arguments is PSObject pso ? pso.BaseObject : arguments;
            if (!(value is TimeSpan ts))
            {
                throw new ValidationMetadataException("The argument is not a time span. Give seconds (300) or hh:mm:ss (00:05:00).");
            }

            if (ts.TotalSeconds < MinimumSeconds || ts.TotalSeconds > MaximumSeconds)
            {
                throw new ValidationMetadataException(string.Format(CultureInfo.InvariantCulture,
                    "{0} is outside the allowed range of {1} to {2} seconds.", ts, MinimumSeconds, MaximumSeconds));
            }
        }
    }
}
