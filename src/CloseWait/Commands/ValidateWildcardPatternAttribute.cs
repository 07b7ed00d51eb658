using System;
using System.Globalization;
using System.Management.Automation;

namespace CloseWait.Commands
{
    /// <summary>
    /// Refuses a malformed wildcard pattern ('[' without its ']') at binding. WildcardPattern parses
    /// lazily, on its first match: without this a bad pattern surfaced as an unhandled
    /// WildcardPatternException in the middle of the listing, and only when a socket had an owner to match.
    /// </summary>
    [AttributeUsage(AttributeTargets.Field | AttributeTargets.Property)]
    public sealed class ValidateWildcardPatternAttribute : ValidateEnumeratedArgumentsAttribute
    {
        protected override void ValidateElement(object element)
        {
            string? text = (element is PSObject pso ? pso.BaseObject : element)?.ToString();
            if (string.IsNullOrEmpty(text))
            {
                throw new ValidationMetadataException("The pattern is empty: give a process name such as 'nginx' or 'java*'.");
            }

            try
            {
                new WildcardPattern(text, WildcardOptions.IgnoreCase).IsMatch(string.Empty);
            }
            catch (WildcardPatternException)
            {
                throw new ValidationMetadataException(string.Format(CultureInfo.InvariantCulture,
                    "'{0}' is not a valid wildcard pattern: a '[' opens a set of characters that must close with ']'. To match a bracket itself, escape it with a backtick inside single quotes: '`['.",
                    text));
            }
        }
    }
}
