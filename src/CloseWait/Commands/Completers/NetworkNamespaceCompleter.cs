using System.Collections;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using CloseWait.Platform;

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

            // One scan (the one -AllNetworkNamespaces uses) gives names, PIDs and containers; best effort, as the rest of completion.
            List<NetworkNamespaceEntry> entries;
            try
            {
                entries = PlatformServices.ListNetworkNamespaces(default);
            }
            catch (System.Exception e) when (e is CloseWaitException || e is System.IO.IOException || e is System.UnauthorizedAccessException)
            {
                return results;
            }

            foreach (var ns in entries.Where(n => n.Name != null).OrderBy(n => n.Name, System.StringComparer.Ordinal))
            {
                if (CompletionText.Matches(ns.Name!, wordToComplete))
                {
                    results.Add(CompletionText.Result(ns.Name!, $"{ns.Name} (/run/netns/{ns.Name})"));
                }
            }

            // One process per other namespace (a container's), the lowest PID.
            foreach (var ns in entries)
            {
                if (ns.Spec == null || ns.FirstProcessId is not int first)
                {
                    continue;
                }

                string pid = first.ToString(CultureInfo.InvariantCulture);
                if (CompletionText.Matches(pid, wordToComplete))
                {
                    results.Add(CompletionText.Result(pid, $"{pid} {ProcessName(first)} (net:[{ns.Inode.ToString(CultureInfo.InvariantCulture)}])"));
                }
            }

            // Running containers by name (or id), as -NetworkNamespace accepts them.
            foreach (var ns in entries)
            {
                foreach (string container in ns.Containers)
                {
                    if (CompletionText.Matches(container, wordToComplete))
                    {
                        results.Add(CompletionText.Result(container, $"{container} (container, {ns.ContainerRuntime ?? "runtime unknown"}, network namespace {ns.Inode.ToString(CultureInfo.InvariantCulture)})"));
                    }
                }
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
