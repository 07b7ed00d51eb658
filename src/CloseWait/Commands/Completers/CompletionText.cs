using System;
using System.Collections.Generic;
using System.Management.Automation;

namespace CloseWait.Commands.Completers
{
    /// <summary>What the completers share: prefix matching and quoting as PowerShell expects.</summary>
    internal static class CompletionText
    {
        /// <summary>True when <paramref name="candidate"/> matches what was typed so far (a prefix, or a wildcard pattern).</summary>
        internal static bool Matches(string candidate, string? wordToComplete)
        {
            string word = Unquote(wordToComplete);
            if (word.Length == 0)
            {
                return true;
            }

            return WildcardPattern.ContainsWildcardCharacters(word)
                ? new WildcardPattern(word, WildcardOptions.IgnoreCase).IsMatch(candidate)
                : candidate.StartsWith(word, StringComparison.OrdinalIgnoreCase);
        }

        internal static CompletionResult Result(string value, string? toolTip = null)
        {
            // Quote what the parser would otherwise split (spaces, commas, quotes, $...).
            string text = value.IndexOfAny(new[] { ' ', '\t', ',', ';', '\'', '"', '$', '`', '(', ')', '{', '}', '@', '#', '&', '|', '<', '>' }) >= 0
                ? "'" + value.Replace("'", "''") + "'"
                : value;
            return new CompletionResult(text, value, CompletionResultType.ParameterValue, string.IsNullOrEmpty(toolTip) ? value : toolTip);
        }

        private static string Unquote(string? word)
        {
            string w = word ?? string.Empty;
            if (w.Length > 0 && (w[0] == '\'' || w[0] == '"'))
            {
                w = w.Substring(1);
                if (w.Length > 0 && w[w.Length - 1] == word![0])
                {
                    w = w.Substring(0, w.Length - 1);
                }
            }

            return w;
        }

        internal static IEnumerable<CompletionResult> None() => new CompletionResult[0];
    }
}
