using System.Collections;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Language;
using CloseWait.Platform;
using CloseWait.Platform.Linux;

namespace CloseWait.Commands.Completers
{
    /// <summary>
    /// -NetworkNamespace (Linux): `ip netns` names from /run/netns, then one PID per other network
    /// namespace (a container's), its tooltip naming the process, then running containers by name
    /// (id when the node's files give no name). Nothing elsewhere.
    /// </summary>
    public sealed class NetworkNamespaceCompleter : IArgumentCompleter
    {
        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
        {
            var results = new List<CompletionResult>();
            if (!PlatformServices.IsLinux)
            {
                return results;
            }

            foreach (var (name, path) in LinuxNamespaceScan.NetnsNames())
            {
                if (CompletionText.Matches(name, wordToComplete))
                {
                    results.Add(CompletionText.Result(name, $"{name} ({path})"));
                }
            }

            // One process per other namespace (a container's), the lowest PID: the scan -AllNetworkNamespaces uses.
            try
            {
                foreach (var ns in LinuxNamespaceScan.Enumerate(default))
                {
                    if (ns.IsOwn || ns.ProcessIds.Count == 0)
                    {
                        continue;
                    }

                    int first = ns.ProcessIds[0];
                    string pid = first.ToString(CultureInfo.InvariantCulture);
                    if (CompletionText.Matches(pid, wordToComplete))
                    {
                        results.Add(CompletionText.Result(pid, $"{pid} {ProcessName(first)} (net:[{ns.Inode.ToString(CultureInfo.InvariantCulture)}])"));
                    }
                }
            }
            catch (System.Exception e) when (e is System.IO.IOException || e is System.UnauthorizedAccessException)
            {
                // Best effort, as the rest of completion.
            }

            // Running containers by name (or id), as -NetworkNamespace accepts them.
            try
            {
                foreach (var ns in LinuxNamespaceScan.Describe(default))
                {
                    foreach (string container in ns.Containers)
                    {
                        if (CompletionText.Matches(container, wordToComplete))
                        {
                            results.Add(CompletionText.Result(container, $"{container} (container, {ns.ContainerRuntime ?? "runtime unknown"}, network namespace {ns.Inode.ToString(CultureInfo.InvariantCulture)})"));
                        }
                    }
                }
            }
            catch (System.Exception e) when (e is System.IO.IOException || e is System.UnauthorizedAccessException)
            {
                // Best effort, as the rest of completion.
            }

            return results;
        }

        private static string ProcessName(int pid)
        {
            try
            {
                using var p = Process.GetProcessById(pid);
                return p.ProcessName;
            }
            catch (System.Exception e) when (e is System.ArgumentException || e is System.InvalidOperationException)
            {
                return "?";
            }
        }
    }
}
