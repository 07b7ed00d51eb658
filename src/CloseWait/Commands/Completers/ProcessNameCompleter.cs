using System;
using System.Collections;
using System.Collections.Generic;
using System.Diagnostics;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace CloseWait.Commands.Completers
{
    /// <summary>
    /// -ProcessName: the names of running processes, as the connection objects' ProcessName has
    /// them. An IArgumentCompleter so that it loads in Windows PowerShell 5.1 too.
    /// </summary>
    public sealed class ProcessNameCompleter : IArgumentCompleter
    {
        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
        {
            var names = new SortedSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (Process p in Process.GetProcesses())
            {
                try
                {
                    string name = p.ProcessName;
                    if (!string.IsNullOrEmpty(name) && CompletionText.Matches(name, wordToComplete))
                    {
                        names.Add(name);
                    }
                }
                catch (InvalidOperationException)
                {
                    // The process exited while listing.
                }
                finally
                {
                    p.Dispose();
                }
            }

            foreach (string name in names)
            {
                yield return CompletionText.Result(name);
            }
        }
    }
}
