using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Management.Automation;

namespace CloseWait.Commands
{
    /// <summary>
    /// Converts what was given to an int parameter (ports, process IDs, probes) itself. PowerShell's
    /// own conversion rounds 5.5 to 6 without a word, and its refusals carry .NET texts ("Value was
    /// either too large or too small for an Int32", "The input string ... was not in a correct format").
    /// $null, and whole numbers an int holds, pass through for the validators to judge; min and max
    /// only say in the message what to give.
    /// </summary>
    [AttributeUsage(AttributeTargets.Field | AttributeTargets.Property)]
    public sealed class WholeNumberAttribute : ArgumentTransformationAttribute
    {
        private readonly long _min;
        private readonly long _max;

        public WholeNumberAttribute(long min, long max)
        {
            _min = min;
            _max = max;
        }

        public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
        {
            object? value = inputData is PSObject pso ? pso.BaseObject : inputData;
            if (value is IList list && !(value is string))
            {
                var items = new List<object?>(list.Count);
                foreach (object? item in list)
                {
                    items.Add(One(item));
                }

                return items.ToArray();
            }

            return One(value);
        }

        private object? One(object? item)
        {
            object? value = item is PSObject pso ? pso.BaseObject : item;
            if (value == null)
            {
                return null;
            }

            // PowerShell would take $true as 1 (-TimeWaitReuse $true wrote 1).
            if (value is bool || value is char)
            {
                throw Refuse($"'{value}' is not a whole number");
            }

            if (!WholeNumbers.TryRead(value, out decimal number))
            {
                // Anything else (an object bound by property name) is left to the binder.
                if (value is string || value is double || value is float)
                {
                    throw Refuse($"'{value}' is not a whole number");
                }

                return item;
            }

            if (number != decimal.Truncate(number))
            {
                throw Refuse(string.Format(CultureInfo.InvariantCulture, "{0} is not a whole number", number));
            }

            // Within an int the parameter's validator judges the range, with its own error id.
            if (number < int.MinValue || number > int.MaxValue)
            {
                throw Refuse(string.Format(CultureInfo.InvariantCulture, "{0} is out of range", number));
            }

            return (int)number;
        }

        private ArgumentTransformationMetadataException Refuse(string what) =>
            new ArgumentTransformationMetadataException(string.Format(CultureInfo.InvariantCulture,
                "{0}: give a whole number from {1} to {2}.", what, Math.Max(_min, 0), _max));
    }
}
