using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using CloseWait.Platform;

namespace CloseWait.Commands
{
    /// <summary>
    /// Diagnoses the CLOSE_WAIT sockets: one answer per service (-GroupBy Process: per owning
    /// process; and one for sockets no process owns) with the cause, the finding and what to do.
    /// The reasoning is CloseWaitAnalyzer's.
    /// </summary>
    [Cmdlet(VerbsDiagnostic.Test, "TcpCloseWait")]
    [OutputType(typeof(TcpCloseWaitDiagnosis))]
    [OutputType(typeof(bool))]
    public sealed class TestTcpCloseWaitCommand : TcpConnectionCommandBase
    {
        private static readonly TcpState[] CloseWaitOnly = { TcpState.CloseWait };

        /// <summary>A socket counts as stuck once in CLOSE_WAIT this long (seconds or hh:mm:ss); default 60 s.</summary>
        [Parameter]
        [SecondsToTimeSpan]
        [ValidateTimeSpanRange(0, 10L * 365 * 24 * 3600)]
        public TimeSpan StuckAfter { get; set; } = TimeSpan.FromMinutes(1);

        /// <summary>Where the table gives no idle time (Windows, macOS): this many sockets of one process are a problem; default 10.</summary>
        [Parameter]
        [WholeNumber(1, int.MaxValue)]
        [ValidateRange(1, int.MaxValue)]
        public int MinimumCount { get; set; } = 10;

        /// <summary>Service (default): one diagnosis per service, its processes together; Process: one per holding process.</summary>
        [Parameter]
        public TcpCloseWaitGrouping GroupBy { get; set; } = TcpCloseWaitGrouping.Service;

        /// <summary>Return only $true (nothing wrong) or $false.</summary>
        [Parameter]
        public SwitchParameter Quiet { get; set; }

        protected override TcpState[]? RequestedStates => CloseWaitOnly;

        protected override void BeginProcessing()
        {
            base.BeginProcessing();
            if (NoOwner)
            {
                // Every cause but AcceptBacklog rests on who holds the socket.
                ThrowTerminatingError(new CloseWaitException(ErrorIds.DiagnosisNeedsOwners, ErrorCategory.InvalidArgument,
                    "Test-TcpCloseWait needs the sockets' owners to tell a cause; leave -NoOwner out (use Get-TcpCloseWait -NoOwner for a quick count).").ToErrorRecord());
            }
        }

        protected override void EndProcessing()
        {
            Listeners = new List<TcpConnection>();
            var sockets = ListConnections().ToList();
            if (StopToken.IsCancellationRequested)
            {
                return;
            }

            var thresholds = new CloseWaitThresholds { StuckAfter = StuckAfter, MinimumCount = MinimumCount };
            var diagnoses = CloseWaitAnalyzer.Analyze(sockets, Listeners, PlatformServices.ProcessDescriptors, thresholds, PlatformServices.ProcessTable, GroupBy);
            if (Quiet)
            {
                WriteObject(diagnoses.All(d => d.Healthy));
                return;
            }

            foreach (var d in diagnoses)
            {
                WriteObject(d);
            }
        }
    }
}
