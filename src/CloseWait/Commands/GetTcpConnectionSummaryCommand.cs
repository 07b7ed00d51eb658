using System;
using System.Management.Automation;
using CloseWait.Platform;
using CloseWait.Commands.Completers;

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
        [AllowNull]
        [AllowEmptyString]
        [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
        public string? NetworkNamespace { get; set; }

        /// <summary>Linux: count every network namespace in use on the host (each container's), with one owner walk.</summary>
        [Parameter]
        public SwitchParameter AllNetworkNamespaces { get; set; }

        /// <summary>Skip the owner walk: state counts only, the cheapest call.</summary>
        [Parameter]
        public SwitchParameter NoOwner { get; set; }

        protected override void StopProcessing() => _stop.Cancel();

        protected override void EndProcessing()
        {
            NamespaceScanReporter.RefuseEmpty(this, NetworkNamespace);
            NetworkNamespace = NamespaceScanReporter.FromLocation(this, NetworkNamespace);
            NamespaceScanReporter.Validate(this, AllNetworkNamespaces, NetworkNamespace);
            var where = NamespaceScanReporter.Resolve(this, AllNetworkNamespaces ? null : NetworkNamespace);
            var scan = AllNetworkNamespaces ? new NamespaceScanReporter(this) : null;
            var query = new SocketQuery
            {
                AddressFamily = TcpConnectionCommandBase.ParseFamily(AddressFamily),
                Namespace = where,
                AllNetworkNamespaces = AllNetworkNamespaces,
                Progress = scan?.Progress,
                IncludeDetails = false,
            };
            var builder = new SummaryBuilder();
            int inaccessible;
            int unownedSockets;
            try
            {
                // Across namespaces the counts come from connection objects: the compact counter reads one namespace.
                var counter = AllNetworkNamespaces ? null : PlatformServices.CreateSummaryCounter(!NoOwner);
                if (counter != null && counter.TryCount(query, builder, _stop.Token))
                {
                    inaccessible = counter.InaccessibleProcesses;
                    unownedSockets = counter.UnownedSockets;
                }
                else
                {
                    var lister = new ConnectionLister(PlatformServices.SocketTable, NoOwner ? null : PlatformServices.OwnerResolver);
                    foreach (var c in lister.List(new ConnectionFilter(), query, !NoOwner, _stop.Token))
                    {
                        builder.Add(c);
                    }

                    inaccessible = lister.InaccessibleProcesses;
                    unownedSockets = lister.UnownedSockets;
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

            if (inaccessible > 0 && unownedSockets > 0)
            {
                WriteWarning(HostWarning.Text(this, ConnectionLister.OwnerWarning(unownedSockets, inaccessible)));
            }

            scan?.Complete();
            var summary = builder.Build(!NoOwner, NetworkNamespace);
            if (scan != null)
            {
                summary.NetworkNamespaceCount = scan.Progress.Total - scan.Progress.Vanished.Count;
            }

            WriteObject(summary);
        }
    }
}
