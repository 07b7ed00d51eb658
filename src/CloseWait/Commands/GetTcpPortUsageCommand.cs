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
        [ValidateRange(1, 65535)]
        public int[]? RemotePort { get; set; }

        protected override void ProcessRecord()
        {
            var setting = TryRead();
            if (setting == null)
            {
                return;
            }

            var builder = new PortUsageBuilder(setting);
            try
            {
                // Three kernel-filtered dumps, no owner walk: the listeners; outbound sockets, local
                // port inside the range (and -RemotePort); TIME_WAIT on listening ports.
                var listening = new System.Collections.Generic.HashSet<int>();
                foreach (var c in Read(new SocketQuery { States = new[] { TcpState.Listen } }))
                {
                    listening.Add(c.LocalPort);
                    builder.Add(c);
                }

                if (setting.PortRangeStart is int start && setting.PortRangeEnd is int end)
                {
                    foreach (var c in Read(new SocketQuery { States = NotListening, LocalPortRange = (start, end), RemotePorts = RemotePort }))
                    {
                        if (!listening.Contains(c.LocalPort))
                        {
                            builder.Add(c);
                        }
                    }
                }

                if (listening.Count > 0)
                {
                    foreach (var c in Read(new SocketQuery { States = new[] { TcpState.TimeWait }, LocalPorts = listening, RemotePorts = RemotePort }))
                    {
                        if (listening.Contains(c.LocalPort))
                        {
                            builder.Add(c);
                        }
                    }
                }
            }
            catch (CloseWaitException e)
            {
                WriteError(e.ToErrorRecord());
                return;
            }
            catch (System.OperationCanceledException)
            {
                return;
            }

            foreach (var row in builder.Build())
            {
                WriteObject(row);
            }
        }

        private static readonly TcpState[] NotListening = System.Linq.Enumerable.ToArray(System.Linq.Enumerable.Where(
            (TcpState[])System.Enum.GetValues(typeof(TcpState)), s => s != TcpState.Listen));

        /// <summary>One dump without tcp_info; the kernel's port filters are hints some tables skip, so -RemotePort is applied again.</summary>
        private System.Collections.Generic.IEnumerable<TcpConnection> Read(SocketQuery query)
        {
            query.IncludeDetails = false;
            query.NetworkNamespace = TargetNamespace;
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
