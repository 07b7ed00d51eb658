using System;
using System.Collections;
using System.Management.Automation;

namespace CloseWait.Commands
{
    /// <summary>
    /// A string parameter that takes one value: PowerShell answers a list with "Specified method is
    /// not supported."; say instead what to give. Anything else is left to the binder.
    /// </summary>
    [AttributeUsage(AttributeTargets.Field | AttributeTargets.Property)]
    public sealed class SingleTextAttribute : ArgumentTransformationAttribute
    {
        private readonly string _example;

        public SingleTextAttribute(string example)
        {
            _example = example;
        }

        public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
        {
            object? value = inputData is PSObject pso ? pso.BaseObject : inputData;
            if (value is IList list && !(value is string))
            {
                if (list.Count == 1)
                {
                    return list[0];
                }

                throw new ArgumentTransformationMetadataException($"Give one value, not a list of {list.Count}: for example {_example}.");
            }

            return inputData;
        }
    }
}
