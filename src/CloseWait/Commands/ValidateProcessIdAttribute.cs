using System;
using System.Collections;
using System.Globalization;
using System.Management.Automation;

namespace CloseWait.Commands
{
    /// <summary>
    /// Process IDs are 0 or more. Unlike ValidateRange it lets $null through: a piped connection whose
    /// owner is unknown has Id $null, and that must select nothing rather than fail the object's
    /// binding. A $null typed on the command line is refused by the cmdlet (ProcessIdIsNull).
    /// </summary>
    [AttributeUsage(AttributeTargets.Field | AttributeTargets.Property)]
    public sealed class ValidateProcessIdAttribute : ValidateArgumentsAttribute
    {
        protected override void Validate(object arguments, EngineIntrinsics engineIntrinsics)
        {
            object? value = arguments is PSObject pso ? pso.BaseObject : arguments;
            if (value == null)
            {
                return;
            }

            int count = 0;
            foreach (object? item in value as IEnumerable ?? new[] { value })
            {
                count++;
                object? element = item is PSObject p ? p.BaseObject : item;
                if (element == null || LanguagePrimitives.ConvertTo<long>(element) < 0)
                {
                    throw new ValidationMetadataException(string.Format(CultureInfo.InvariantCulture,
                        "'{0}' is not a process ID: give a number of 0 or more.", element));
                }
            }

            if (count == 0)
            {
                throw new ValidationMetadataException("The list of process IDs is empty.");
            }
        }
    }
}
