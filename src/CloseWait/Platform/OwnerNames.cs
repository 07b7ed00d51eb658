using System;
using System.Collections.Generic;
using System.Threading;

namespace CloseWait.Platform
{
    /// <summary>For tables that give each socket's owning PID (Windows, macOS): names the owners.</summary>
    internal static class OwnerNames
    {
        /// <summary>
        /// Fills ProcessName and Owners of each connection with a ProcessId, asking
        /// <paramref name="nameOf"/> once per PID; one owner object per PID, shared by its sockets.
        /// </summary>
        internal static void Apply(IReadOnlyList<TcpConnection> connections, Func<int, string?> nameOf, CancellationToken cancellationToken)
        {
            var owners = new Dictionary<int, TcpSocketOwner[]>();
            foreach (var c in connections)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (!(c.ProcessId is int pid))
                {
                    continue;
                }

                if (!owners.TryGetValue(pid, out var owner))
                {
                    owner = new[] { TcpSocketOwner.Listed(pid, nameOf(pid), null) };
                    owners[pid] = owner;
                }

                c.Program = owner[0].Program;
                c.Owners = owner;
            }
        }
    }
}
