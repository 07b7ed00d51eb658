using System;
using System.Collections;
using System.Collections.Generic;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace CloseWait.Commands.Completers
{
    /// <summary>
    /// -State: the TcpState names (Get-NetTCPConnection's). An IArgumentCompleter so that it loads
    /// in Windows PowerShell 5.1 too (pwsh orders the results itself).
    /// </summary>
    public sealed class TcpStateCompleter : IArgumentCompleter
    {
        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
        {
            foreach (TcpState state in (TcpState[])Enum.GetValues(typeof(TcpState)))
            {
                string name = state.ToString();
                if (CompletionText.Matches(name, wordToComplete))
                {
                    yield return CompletionText.Result(name);
                }
            }
        }
    }
}
