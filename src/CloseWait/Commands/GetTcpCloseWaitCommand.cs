using System;
using System.Management.Automation;

namespace CloseWait.Commands
{
    /// <summary>Lists sockets stuck in CLOSE_WAIT: the peer has closed, the owner has not.</summary>
    [Cmdlet(VerbsCommon.Get, "TcpCloseWait")]
    [OutputType(typeof(TcpConnection))]
    public sealed class GetTcpCloseWaitCommand : TcpConnectionCommandBase
    {
        private static readonly TcpState[] CloseWaitOnly = { TcpState.CloseWait };

        /// <summary>Only sockets idle at least this long (seconds or hh:mm:ss).</summary>
        [Parameter]
        [SecondsToTimeSpan]
        [ValidateTimeSpanRange(0, 10L * 365 * 24 * 3600)]
        public TimeSpan? MinimumIdleTime { get; set; }

        protected override TcpState[]? RequestedStates => CloseWaitOnly;

        protected override TimeSpan? RequestedMinimumIdleTime => MinimumIdleTime;

        protected override void EndProcessing()
        {
            foreach (var c in ListConnections())
            {
                WriteObject(c);
            }
        }
    }
}
