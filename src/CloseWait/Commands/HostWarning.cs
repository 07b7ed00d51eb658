using System;
using System.Management.Automation;

namespace CloseWait.Commands
{
    /// <summary>
    /// A warning raised in a remote session reaches the caller as bare text, among the warnings of
    /// every other host: there it starts with this host's name, "[web01] ...".
    /// </summary>
    internal static class HostWarning
    {
        internal static string Text(PSCmdlet cmdlet, string message) =>
            InRemoteSession(cmdlet) ? $"[{Environment.MachineName}] {message}" : message;

        /// <summary>PowerShell defines $PSSenderInfo in every session a remote caller opened (WinRM or SSH).</summary>
        private static bool InRemoteSession(PSCmdlet cmdlet) =>
            cmdlet.SessionState?.PSVariable.GetValue("PSSenderInfo") != null;
    }
}
