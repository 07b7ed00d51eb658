using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Net.Sockets;
using System.Threading;
using CloseWait.Platform;
using CloseWait.Commands.Completers;

namespace CloseWait.Commands
{
    /// <summary>
    /// The parameters and the listing loop shared by Get-TcpConnection, Get-TcpCloseWait and the
    /// cmdlets that select connections the same way (Close-TcpConnection).
    /// </summary>
    public abstract class TcpConnectionCommandBase : PSCmdlet
    {
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        private readonly HashSet<int> _pipelinePids = new HashSet<int>();
        private bool _sawInput;

        [Parameter]
        [WholeNumber(0, 65535)]
        [ValidateRange(0, 65535)]
        public int[]? LocalPort { get; set; }

        [Parameter]
        [WholeNumber(0, 65535)]
        [ValidateRange(0, 65535)]
        public int[]? RemotePort { get; set; }

        /// <summary>An address or CIDR prefix: 10.0.0.5, 10.0.0.0/8, ::1, fe80::/10.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public IPPrefix[]? LocalAddress { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public IPPrefix[]? RemoteAddress { get; set; }

        /// <summary>Owner PID; binds from Get-Process output by its Id property.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [Alias("Id", "OwningProcess")]
        [WholeNumber(long.MinValue, int.MaxValue)]
        [ValidateProcessId]
        public int[]? ProcessId { get; set; }

        [Parameter]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        [ValidateWildcardPattern]
        [ArgumentCompleter(typeof(ProcessNameCompleter))]
        [Alias("Program")]
        public string[]? ProcessName { get; set; }

        [Parameter]
        [ValidateSet("IPv4", "IPv6", "InterNetwork", "InterNetworkV6", IgnoreCase = true)]
        public string? AddressFamily { get; set; }

        /// <summary>Linux: read another network namespace (a container's) by PID, name or path.</summary>
        [Parameter]
        [AllowNull]
        [AllowEmptyString]
        [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
        public string? NetworkNamespace { get; set; }

        /// <summary>Linux: read every network namespace in use on the host (each container's, each pod's), not only the caller's.</summary>
        [Parameter]
        public SwitchParameter AllNetworkNamespaces { get; set; }

        /// <summary>Skip the owner lookup: faster, owner fields stay $null.</summary>
        [Parameter]
        public SwitchParameter NoOwner { get; set; }

        /// <summary>The states to ask the kernel for; null for all.</summary>
        protected abstract TcpState[]? RequestedStates { get; }

        protected virtual TimeSpan? RequestedMinimumIdleTime => null;

        /// <summary>
        /// Set by a cmdlet that also needs the listening sockets on the selected local ports
        /// (Test-TcpCloseWait): <see cref="ListConnections"/> fills it, owners included, from the same read.
        /// </summary>
        protected List<TcpConnection>? Listeners { get; set; }

        protected CancellationToken StopToken => _stop.Token;

        protected override void BeginProcessing()
        {
            // From the command line $null is a mistake (an empty variable), never "every process".
            if (MyInvocation.BoundParameters.TryGetValue(nameof(ProcessId), out object? pid) && pid == null)
            {
                ThrowTerminatingError(new CloseWaitException(ErrorIds.ProcessIdIsNull, ErrorCategory.InvalidArgument,
                    "-ProcessId is $null. Give one or more process IDs, or leave -ProcessId out to select every process.").ToErrorRecord());
            }
        }

        protected override void ProcessRecord()
        {
            if (MyInvocation.ExpectingInput)
            {
                _sawInput = true;
                if (ProcessId != null)
                {
                    _pipelinePids.UnionWith(ProcessId);
                }
            }
        }

        protected override void StopProcessing() => _stop.Cancel();

        /// <summary>Lists the connections that match the parameters, once, after all pipeline input is in.</summary>
        protected IEnumerable<TcpConnection> ListConnections()
        {
            NamespaceScanReporter.RefuseEmpty(this, NetworkNamespace);
            NetworkNamespace = NamespaceScanReporter.FromLocation(this, NetworkNamespace);
            if (SelectsNothing)
            {
                yield break;
            }

            NamespaceScanReporter.Validate(this, AllNetworkNamespaces, NetworkNamespace);
            var scan = AllNetworkNamespaces ? new NamespaceScanReporter(this) : null;
            var filter = BuildFilter();
            var query = BuildQuery(filter);
            query.Progress = scan?.Progress;

            if (Listeners != null && RequestedStates != null && Array.IndexOf(RequestedStates, TcpState.Listen) < 0)
            {
                // Listeners have remote port 0: a remote port filter in the kernel would drop them.
                query.States = RequestedStates.Concat(new[] { TcpState.Listen }).ToArray();
                query.RemotePorts = null;
            }

            ConnectionLister lister;
            try
            {
                bool owners = !(NoOwner && !filter.FiltersByOwner);
                lister = new ConnectionLister(PlatformServices.SocketTable, owners ? PlatformServices.OwnerResolver : null,
                    owners ? PlatformServices.CreateContainerResolver() : null)
                {
                    Listeners = Listeners,
                };
            }
            catch (CloseWaitException e)
            {
                ThrowTerminatingError(e.ToErrorRecord());
                yield break;
            }

            var watch = Stopwatch.StartNew();
            int count = 0;
            using (var e = lister.List(filter, query, !NoOwner, StopToken).GetEnumerator())
            {
                while (true)
                {
                    TcpConnection current;
                    try
                    {
                        if (!e.MoveNext())
                        {
                            break;
                        }

                        current = e.Current;
                    }
                    catch (OperationCanceledException)
                    {
                        yield break;
                    }
                    catch (Exception ex) when (TranslateFailure(ex) is ErrorRecord record)
                    {
                        ThrowTerminatingError(record);
                        yield break;
                    }

                    count++;
                    yield return current;
                }
            }

            scan?.Complete();
            WriteVerbose($"Listed {count} matching socket(s) in {watch.ElapsedMilliseconds} ms.");
            if (lister.UnownedSockets > 0 && lister.InaccessibleProcesses > 0)
            {
                WriteWarning(HostWarning.Text(this, ConnectionLister.OwnerWarning(lister.UnownedSockets, lister.InaccessibleProcesses, lister.FilteredByOwner)));
            }

            if (lister.UnknownIdleTime > 0)
            {
                WriteWarning(HostWarning.Text(this, $"{lister.UnknownIdleTime} socket(s) were left out because this platform's socket table gives no idle time for them, so -MinimumIdleTime cannot be applied."));
            }
        }

        /// <summary>Empty pipeline input selects nothing, never everything.</summary>
        protected bool SelectsNothing => MyInvocation.ExpectingInput && !_sawInput;

        /// <summary>What to ask the socket table for; refuses -NetworkNamespace off Linux.</summary>
        internal SocketQuery BuildQuery(ConnectionFilter filter)
        {
            var where = NamespaceScanReporter.Resolve(this, AllNetworkNamespaces ? null : NetworkNamespace);
            return new SocketQuery
            {
                States = RequestedStates,
                LocalPorts = filter.LocalPorts,
                RemotePorts = filter.RemotePorts,
                AddressFamily = filter.AddressFamily,
                Namespace = where,
                AllNetworkNamespaces = AllNetworkNamespaces,
            };
        }

        /// <summary>The filter the parameters describe; Close-TcpConnection also applies it to piped connections.</summary>
        internal ConnectionFilter BuildFilter()
        {
            var filter = new ConnectionFilter
            {
                States = RequestedStates,
                LocalPorts = LocalPort != null ? new HashSet<int>(LocalPort) : null,
                RemotePorts = RemotePort != null ? new HashSet<int>(RemotePort) : null,
                LocalAddresses = LocalAddress,
                RemoteAddresses = RemoteAddress,
                MinimumIdleTime = RequestedMinimumIdleTime,
                AddressFamily = ParseFamily(AddressFamily),
            };

            if (_sawInput)
            {
                filter.ProcessIds = _pipelinePids;
            }
            else if (ProcessId != null)
            {
                filter.ProcessIds = new HashSet<int>(ProcessId);
            }

            if (ProcessName != null)
            {
                filter.ProcessNames = ProcessName.Select(n => new WildcardPattern(n, WildcardOptions.IgnoreCase)).ToArray();
            }

            return filter;
        }

        internal static System.Net.Sockets.AddressFamily? ParseFamily(string? family)
        {
            switch (family?.ToUpperInvariant())
            {
                case null:
                    return null;
                case "IPV4":
                case "INTERNETWORK":
                    return System.Net.Sockets.AddressFamily.InterNetwork;
                default:
                    return System.Net.Sockets.AddressFamily.InterNetworkV6;
            }
        }

        /// <summary>The ErrorRecord of a back end failure (the platforms translate theirs to CloseWaitException); null for exceptions that are bugs.</summary>
        internal static ErrorRecord? TranslateFailure(Exception ex) => ex is CloseWaitException cw ? cw.ToErrorRecord() : null;
    }
}
