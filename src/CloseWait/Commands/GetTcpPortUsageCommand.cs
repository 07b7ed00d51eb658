using System.Management.Automation;
using System.Threading;
using CloseWait.Platform;

namespace CloseWait.Commands
{
    /// <summary>
    /// Ephemeral ports taken per destination, TIME_WAIT included, against the usable range: which
    /// destination is near "cannot assign requested address", when the next port frees, and what
    /// to do. One socket table read without owners (no /proc walk), so it is cheap enough to poll.
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
                if (RemotePort == null)
                {
                    // One dump, listeners included: they tell accepted sockets from outbound ones.
                    Feed(builder, new SocketQuery { IncludeDetails = false, NetworkNamespace = TargetNamespace });
                }
                else
                {
                    // The kernel filters by destination port; listeners (remote port 0) come from a second, Listen-only dump.
                    Feed(builder, new SocketQuery { States = new[] { TcpState.Listen }, IncludeDetails = false, NetworkNamespace = TargetNamespace });
                    Feed(builder, new SocketQuery { States = NotListening, RemotePorts = RemotePort, IncludeDetails = false, NetworkNamespace = TargetNamespace });
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

        private void Feed(PortUsageBuilder builder, SocketQuery query)
        {
            foreach (var c in PlatformServices.SocketTable.Read(query, _stop.Token))
            {
                // The kernel's port filter is a hint some tables skip: filter again.
                if (c.State == TcpState.Listen || RemotePort == null || System.Array.IndexOf(RemotePort, c.RemotePort) >= 0)
                {
                    builder.Add(c);
                }
            }
        }

        protected override void StopProcessing() => _stop.Cancel();
    }
}
