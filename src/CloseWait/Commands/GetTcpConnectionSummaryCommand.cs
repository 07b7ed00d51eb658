using System;
using System.Management.Automation;
using CloseWait.Platform;

namespace CloseWait.Commands
{
    /// <summary>Counts sockets per state and per owning process in one cheap pass.</summary>
    [Cmdlet(VerbsCommon.Get, "TcpConnectionSummary")]
    [OutputType(typeof(TcpConnectionSummary))]
    public sealed class GetTcpConnectionSummaryCommand : PSCmdlet
    {
        private readonly System.Threading.CancellationTokenSource _stop = new System.Threading.CancellationTokenSource();

        [Parameter]
        [ValidateSet("IPv4", "IPv6", "InterNetwork", "InterNetworkV6", IgnoreCase = true)]
        public string? AddressFamily { get; set; }

        /// <summary>Linux: count another network namespace (a container's) by PID, name or path.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? NetworkNamespace { get; set; }

        /// <summary>Skip the owner walk: state counts only, the cheapest call.</summary>
        [Parameter]
        public SwitchParameter NoOwner { get; set; }

        protected override void StopProcessing() => _stop.Cancel();

        protected override void EndProcessing()
        {
            if (NetworkNamespace != null && !PlatformServices.IsLinux)
            {
                ThrowTerminatingError(PlatformServices.NetworkNamespaceNotSupported(NetworkNamespace).ToErrorRecord());
            }

            var query = new SocketQuery
            {
                AddressFamily = TcpConnectionCommandBase.ParseFamily(AddressFamily),
                NetworkNamespace = NetworkNamespace,
                IncludeDetails = false,
            };
            var builder = new SummaryBuilder();
            ConnectionLister lister;
            try
            {
                lister = new ConnectionLister(PlatformServices.SocketTable, NoOwner ? null : PlatformServices.OwnerResolver);
                foreach (var c in lister.List(new ConnectionFilter(), query, !NoOwner, _stop.Token))
                {
                    builder.Add(c);
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception ex) when (TcpConnectionCommandBase.TranslateFailure(ex) is ErrorRecord record)
            {
                ThrowTerminatingError(record);
                return;
            }

            if (lister.InaccessibleProcesses > 0 && lister.UnownedSockets > 0)
            {
                WriteWarning($"{lister.UnownedSockets} socket(s) have no visible owner: {lister.InaccessibleProcesses} process(es) could not be inspected. Run as root (sudo) to see every socket's owner.");
            }

            WriteObject(builder.Build(!NoOwner, NetworkNamespace));
        }
    }
}
