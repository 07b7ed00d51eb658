using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using CloseWait.Platform;

namespace CloseWait.Commands
{
    /// <summary>
    /// Ephemeral ports taken per destination, TIME_WAIT included, against the usable range: which
    /// destination is near "cannot assign requested address", when the next port frees, and what
    /// to do. Kernel-filtered socket table reads without owners (no /proc walk): only sockets
    /// inside the ephemeral range, listeners, and TIME_WAIT on listening ports cross into the process.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "TcpPortUsage")]
    [OutputType(typeof(TcpPortUsage))]
    public sealed class GetTcpPortUsageCommand : TimeWaitCommandBase
    {
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();

        /// <summary>Only these destination ports (the kernel filters the dump).</summary>
        [Parameter(Position = 0)]
        [WholeNumber(1, 65535)]
        [ValidateRange(1, 65535)]
        public int[]? RemotePort { get; set; }

        /// <summary>Linux: every network namespace in use on the host, each with its own port range and sockets.</summary>
        [Parameter]
        public SwitchParameter AllNetworkNamespaces { get; set; }

        protected override void ProcessRecord()
        {
            if (AllNetworkNamespaces)
            {
                ReportAllNamespaces();
                return;
            }

            var refused = RefuseNamespaceHere();
            if (refused != null)
            {
                WriteError(refused.ToErrorRecord());
                return;
            }

            try
            {
                // One entry for the port range and the socket table together.
                var where = PlatformServices.ResolveNamespace(TargetNamespace);
                WriteRows(PlatformServices.InNamespace(where, () => Rows(where)));
            }
            catch (System.OperationCanceledException)
            {
            }
            catch (System.Exception ex) when (TcpConnectionCommandBase.TranslateFailure(ex) is ErrorRecord record)
            {
                // Setting, netlink and I/O failures as typed errors with an id, as Get-TcpConnection writes them.
                WriteError(record);
            }
        }

        /// <summary>
        /// Each namespace's ports count against its own range (ip_local_port_range is per namespace),
        /// so each is read and grouped on its own; one that vanishes is skipped with one warning.
        /// </summary>
        private void ReportAllNamespaces()
        {
            NamespaceScanReporter.Validate(this, true, NetworkNamespace);
            List<NetworkNamespaceEntry> entries;
            try
            {
                entries = PlatformServices.ListNetworkNamespaces(_stop.Token);
            }
            catch (CloseWaitException e)
            {
                ThrowTerminatingError(e.ToErrorRecord());
                return;
            }
            catch (System.OperationCanceledException)
            {
                return;
            }

            var scan = new NamespaceScanReporter(this);
            scan.Begin(entries.Count);
            foreach (var ns in entries)
            {
                try
                {
                    var where = ns.Identity();
                    WriteRows(PlatformServices.InNamespace(where, () => Rows(where)));
                }
                catch (CloseWaitException e) when (scan.Vanished(ns, e))
                {
                }
                catch (System.OperationCanceledException)
                {
                    return;
                }
                catch (System.Exception ex) when (TcpConnectionCommandBase.TranslateFailure(ex) is ErrorRecord record)
                {
                    WriteError(record);
                }
                finally
                {
                    scan.Next();
                }
            }

            scan.Complete();
        }

        /// <summary>
        /// The rows of one network namespace, read where the caller runs: inside the namespace
        /// (<see cref="PlatformServices.InNamespace"/>), so the store reads "here" and the dumps of
        /// <paramref name="where"/> do not enter it again.
        /// </summary>
        private List<TcpPortUsage> Rows(NamespaceIdentity where)
        {
            var setting = Store.Read(null);
            where.Locate(setting);
            var builder = new PortUsageBuilder(setting);
            // Three kernel-filtered dumps, no owner walk: the listeners; outbound sockets, local
            // port inside the range (and -RemotePort); TIME_WAIT on listening ports.
            var listening = new HashSet<int>();
            foreach (var c in Read(new SocketQuery { States = new[] { TcpState.Listen } }, where))
            {
                listening.Add(c.LocalPort);
                builder.Add(c);
            }

            if (setting.PortRangeStart is int start && setting.PortRangeEnd is int end)
            {
                foreach (var c in Read(new SocketQuery { States = NotListening, LocalPortRange = (start, end), RemotePorts = RemotePort }, where))
                {
                    if (!listening.Contains(c.LocalPort))
                    {
                        builder.Add(c);
                    }
                }
            }

            if (listening.Count > 0)
            {
                foreach (var c in Read(new SocketQuery { States = new[] { TcpState.TimeWait }, LocalPorts = listening, RemotePorts = RemotePort }, where))
                {
                    if (listening.Contains(c.LocalPort))
                    {
                        builder.Add(c);
                    }
                }
            }

            var rows = builder.Build();
            foreach (var row in rows)
            {
                row.NetworkNamespaceId = where.Inode;
            }

            return rows;
        }

        private void WriteRows(List<TcpPortUsage> rows)
        {
            foreach (var row in rows)
            {
                WriteObject(row);
            }
        }

        private static readonly TcpState[] NotListening = System.Linq.Enumerable.ToArray(System.Linq.Enumerable.Where(
            (TcpState[])System.Enum.GetValues(typeof(TcpState)), s => s != TcpState.Listen));

        /// <summary>One dump without tcp_info; the kernel's port filters are hints some tables skip, so -RemotePort is applied again.</summary>
        private IEnumerable<TcpConnection> Read(SocketQuery query, NamespaceIdentity where)
        {
            query.IncludeDetails = false;
            query.Namespace = where.IsOwn ? null : where;
            foreach (var c in PlatformServices.SocketTable.Read(query, _stop.Token))
            {
                if (c.State == TcpState.Listen || RemotePort == null || System.Array.IndexOf(RemotePort, c.RemotePort) >= 0)
                {
                    yield return c;
                }
            }
        }

        protected override void StopProcessing() => _stop.Cancel();
    }
}
