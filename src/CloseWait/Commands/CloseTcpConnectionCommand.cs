using System;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using CloseWait.Platform;
using CloseWait.Commands.Completers;

namespace CloseWait.Commands
{
    /// <summary>
    /// Closes TCP sockets without stopping the processes that hold them: the connections piped in
    /// (Get-TcpCloseWait | Close-TcpConnection), or those the Get-TcpConnection filters select, where
    /// -State must be named. A listening socket closes only when -State names Listen.
    /// </summary>
    [Cmdlet(VerbsCommon.Close, "TcpConnection", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = FilterSet)]
    [OutputType(typeof(TcpCloseResult))]
    public sealed class CloseTcpConnectionCommand : TcpConnectionCommandBase, IDisposable
    {
        private const string InputObjectSet = "InputObject";
        private const string FilterSet = "Filter";

        private ISocketCloser? _closer;
        private ConnectionFilter? _inputFilter;
        private int[]? _commandLineProcessIds;
        private int _closed;
        private int _gone;
        private int _replaced;
        private int _failed;
        private readonly System.Collections.Generic.Dictionary<string, ulong?> _namespaceInodes = new System.Collections.Generic.Dictionary<string, ulong?>();

        /// <summary>Connections from Get-TcpConnection or Get-TcpCloseWait, also after remoting or Import-Csv.</summary>
        [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputObjectSet)]
        [TcpConnectionTransformation]
        public TcpConnection[]? InputObject { get; set; }

        /// <summary>States to close: required when selecting by filters; with piped connections, an extra filter.</summary>
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = FilterSet)]
        [Parameter(ParameterSetName = InputObjectSet)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(TcpStateCompleter))]
        public TcpState[]? State { get; set; }

        /// <summary>Abort (SOCK_DESTROY / SetTcpEntry, resets the peer) or Shutdown (Linux: through the owner's descriptor, a FIN).</summary>
        [Parameter]
        public TcpCloseMethod Method { get; set; } = TcpCloseMethod.Abort;

        /// <summary>Close without the stronger question, as Stop-Process -Force; -WhatIf and -Confirm still apply (the engine decides).</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Write a CloseWait.TcpCloseResult per socket: whether it was closed and how.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override TcpState[]? RequestedStates => State;

        private bool ClosesListeners => State != null && Array.IndexOf(State, TcpState.Listen) >= 0;

        protected override void BeginProcessing()
        {
            base.BeginProcessing();

            // Only the command line's -ProcessId filters piped connections; a piped connection's
            // own Id also binds to -ProcessId and must not count as a filter.
            _commandLineProcessIds = MyInvocation.BoundParameters.ContainsKey(nameof(ProcessId)) ? ProcessId : null;
        }

        protected override void ProcessRecord()
        {
            if (ParameterSetName == FilterSet)
            {
                base.ProcessRecord();
                return;
            }

            foreach (var c in InputObject ?? Array.Empty<TcpConnection>())
            {
                if (StopToken.IsCancellationRequested)
                {
                    return;
                }

                if (c == null)
                {
                    continue;
                }

                var filter = InputFilter();
                if (!filter.MatchesSocket(c) || !filter.MatchesOwner(c))
                {
                    WriteVerbose($"Left {Target(c)}: it does not match the filters.");
                    continue;
                }

                CloseOne(c);
            }
        }

        protected override void EndProcessing()
        {
            if (ParameterSetName == FilterSet)
            {
                // Listed in full first: closing sockets while the kernel's dump walks its table could make it skip some.
                foreach (var c in ListConnections().ToList())
                {
                    if (StopToken.IsCancellationRequested)
                    {
                        return;
                    }

                    CloseOne(c);
                }
            }

            WriteVerbose(string.Format(CultureInfo.InvariantCulture, "Closed {0}, already gone {1}, replaced by a new socket {2}, failed {3}.", _closed, _gone, _replaced, _failed));
        }

        private ConnectionFilter InputFilter()
        {
            if (_inputFilter == null)
            {
                _inputFilter = BuildFilter();
                _inputFilter.ProcessIds = _commandLineProcessIds != null ? new System.Collections.Generic.HashSet<int>(_commandLineProcessIds) : null;
            }

            return _inputFilter;
        }

        private void CloseOne(TcpConnection c)
        {
            string target = Target(c);
            if (c.State == TcpState.Listen && !ClosesListeners)
            {
                _failed++;
                var skipped = new CloseWaitException(ErrorIds.ListenerNotClosed, ErrorCategory.InvalidOperation,
                    $"{target} is a listening socket: closing it stops the service from accepting connections. A listener closes only when -State names Listen.", c);
                WriteError(skipped.ToErrorRecord());
                WritePassThru(new TcpCloseResult(c, TcpCloseStatus.Skipped, null, skipped.Message));
                return;
            }

            if (Elsewhere(c) is string where)
            {
                _failed++;
                var refused = new CloseWaitException(ErrorIds.ConnectionListedElsewhere, ErrorCategory.InvalidOperation,
                    $"{target} was listed on {where}. Its cookie, addresses and owner name that socket only where it was listed; here they could name another. Close it there: {CloseThere(c)}", c);
                WriteError(refused.ToErrorRecord());
                WritePassThru(new TcpCloseResult(c, TcpCloseStatus.Skipped, null, refused.Message));
                return;
            }

            if (!Confirmed(target, Method == TcpCloseMethod.Abort ? "Close TCP connection (Abort: reset the peer)" : "Close TCP connection (Shutdown through the owner's descriptor)"))
            {
                return;
            }

            CloseOutcome outcome;
            try
            {
                outcome = Closer().Close(c, Method, StopToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (CloseWaitException e)
            {
                _failed++;
                WriteError(e.ToErrorRecord());
                WritePassThru(new TcpCloseResult(c, TcpCloseStatus.Failed, null, e.Message) { NativeError = e.NativeError });
                return;
            }

            switch (outcome.Status)
            {
                case TcpCloseStatus.Closed:
                    _closed++;
                    WriteVerbose($"Closed {target}: {outcome.Detail}");
                    break;
                case TcpCloseStatus.Replaced:
                    _replaced++;
                    WriteWarning(HostWarning.Text(this, $"Did not close {target}: {outcome.Detail}"));
                    break;
                default:
                    _gone++;
                    WriteVerbose($"{target}: {outcome.Detail}");
                    break;
            }

            WritePassThru(new TcpCloseResult(c, outcome.Status, outcome.Status == TcpCloseStatus.Closed ? Method : (TcpCloseMethod?)null, outcome.Detail)
            {
                RemainingState = outcome.RemainingState,
                Via = outcome.Via,
            });
        }

        /// <summary>Null when the connection was listed here: this boot, and the namespace the close acts in.</summary>
        private string? Elsewhere(TcpConnection c)
        {
            ulong? target = null;
            if (c.NetworkNamespaceId != null)
            {
                string key = c.NetworkNamespace ?? string.Empty;
                if (!_namespaceInodes.TryGetValue(key, out target))
                {
                    try
                    {
                        target = PlatformServices.ResolveNamespace(c.NetworkNamespace).Inode;
                    }
                    catch (CloseWaitException)
                    {
                        target = null; // the spec names nothing now: the closer looks for the listed inode itself
                    }

                    _namespaceInodes[key] = target;
                }
            }

            return ConnectionOrigin.Elsewhere(c, PlatformServices.BootId, target);
        }

        /// <summary>The command that closes the connection on the host that listed it.</summary>
        internal static string CloseThere(TcpConnection c)
        {
            string host = c.ReachedAs ?? c.ComputerName ?? "<host>";
            string ns = c.NetworkNamespace != null ? $" -NetworkNamespace {c.NetworkNamespace}" : string.Empty;
            return $"Invoke-Command -HostName {host} {{ Get-TcpConnection -State {c.State} -LocalAddress {c.LocalAddress} -LocalPort {c.LocalPort} -RemoteAddress {c.RemoteAddress} -RemotePort {c.RemotePort}{ns} | Close-TcpConnection }}";
        }

        private ISocketCloser Closer()
        {
            if (_closer == null)
            {
                try
                {
                    _closer = PlatformServices.CreateSocketCloser();
                }
                catch (CloseWaitException e)
                {
                    ThrowTerminatingError(e.ToErrorRecord());
                }
            }

            return _closer!;
        }

        /// <summary>
        /// As Stop-Process: the engine owns ShouldProcess (-WhatIf, -Confirm, $WhatIfPreference, $ConfirmPreference);
        /// then the stronger question, which -Force (or an explicit -Confirm:$false) skips.
        /// </summary>
        private bool Confirmed(string target, string action)
        {
            if (!ShouldProcess(target, action))
            {
                return false;
            }

            if (Force || ConfirmDeclined())
            {
                return true;
            }

            return ShouldContinue($"Close {target}? The owner keeps running, but its work on this connection is lost.", action, ref _yesToAll, ref _noToAll);
        }

        private bool _yesToAll;
        private bool _noToAll;

        private bool ConfirmDeclined() =>
            MyInvocation.BoundParameters.TryGetValue("Confirm", out object? value) && !LanguagePrimitives.IsTrue(value);

        private void WritePassThru(TcpCloseResult result)
        {
            if (PassThru)
            {
                WriteObject(result);
            }
        }

        /// <summary>What -WhatIf and the prompt name: both endpoints, the state, the owner and the socket's identity.</summary>
        internal static string Target(TcpConnection c)
        {
            string owner = c.ProcessId is int pid ? $", PID {pid}" + (c.Program != null ? $" ({c.Program})" : string.Empty) : string.Empty;
            string identity = c.Cookie is ulong cookie ? $", cookie {cookie}" : c.Inode is ulong inode ? $", inode {inode}" : string.Empty;
            string ns = c.NetworkNamespace != null ? $", network namespace {c.NetworkNamespace}" : string.Empty;
            string container = c.ContainerId != null ? $", container {c.ContainerName ?? c.ContainerId.Substring(0, Math.Min(12, c.ContainerId.Length))}" : string.Empty;
            return $"{c.DescribeEndpoints()} {c.State}{owner}{identity}{ns}{container}";
        }

        public void Dispose()
        {
            _closer?.Dispose();
            _closer = null;
        }
    }
}
