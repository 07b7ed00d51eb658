using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using CloseWait.Platform;

namespace CloseWait.Commands
{
    /// <summary>
    /// Changes the system TCP keepalive, all or nothing, optionally persisted. Takes a baseline from
    /// Get-TcpKeepAliveSetting (live, Import-Clixml, ConvertFrom-Json) or Test-TcpKeepAliveSetting's
    /// recommendation through the pipeline.
    /// </summary>
    [Cmdlet(VerbsCommon.Set, "TcpKeepAliveSetting", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(TcpKeepAliveSetting))]
    public sealed class SetTcpKeepAliveSettingCommand : KeepAliveCommandBase
    {
        /// <summary>Idle time before the first probe (seconds or hh:mm:ss); unchanged when not given.</summary>
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("RecommendedTime")]
        [SecondsToTimeSpan]
        public TimeSpan? Time { get; set; }

        /// <summary>Time between unanswered probes (seconds or hh:mm:ss); unchanged when not given.</summary>
        [Parameter(Position = 1, ValueFromPipelineByPropertyName = true)]
        [Alias("RecommendedInterval")]
        [SecondsToTimeSpan]
        public TimeSpan? Interval { get; set; }

        /// <summary>Unanswered probes before the connection is dropped; unchanged when not given. Not settable on Windows.</summary>
        [Parameter(Position = 2, ValueFromPipelineByPropertyName = true)]
        [Alias("RecommendedProbes")]
        public int? Probes { get; set; }

        /// <summary>Make the values survive a reboot: a drop-in under /etc/sysctl.d (Linux); the registry already does (Windows).</summary>
        [Parameter]
        public SwitchParameter Persist { get; set; }

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void BeginProcessing()
        {
            base.BeginProcessing();
            if (Persist && NetworkNamespace != null)
            {
                ThrowTerminatingError(new CloseWaitException("PersistNotSupportedForNetworkNamespace", ErrorCategory.InvalidArgument,
                    "-Persist writes a drop-in under the host's /etc/sysctl.d, which applies to the host's network namespace at boot, not to another one. " +
                    "Persist a container's keepalive through its runtime (docker run --sysctl net.ipv4.tcp_keepalive_time=300, Kubernetes securityContext.sysctls); leave out -Persist to change it now.",
                    NetworkNamespace).ToErrorRecord());
            }
        }

        protected override void ProcessRecord()
        {
            var change = new KeepAliveChange(Time, Interval, Probes);
            if (change.IsEmpty && !Persist)
            {
                WriteError(new CloseWaitException("KeepAliveNothingToSet", ErrorCategory.InvalidArgument,
                    "Nothing to set: give -Time, -Interval or -Probes (or pipe in a setting), or -Persist to persist the running values.").ToErrorRecord());
                return;
            }

            var invalid = Store.Rules.Validate(change);
            if (invalid != null)
            {
                WriteError(invalid.ToErrorRecord());
                return;
            }

            try
            {
                Apply(change);
            }
            catch (CloseWaitException e)
            {
                WriteError(e.ToErrorRecord());
            }
        }

        private void Apply(KeepAliveChange change)
        {
            var current = Store.Read(NetworkNamespace);
            var target = change.Over(current);
            if (Persist && Store.PersistTarget == null)
            {
                Store.Persist(target); // throws this platform's explanation before anything is written
            }

            var steps = KeepAliveTransaction.Plan(Store.Rules, current, change);
            if (steps.Count == 0 && !Persist)
            {
                WriteVerbose($"The keepalive already is {current}; nothing to change.");
                if (PassThru)
                {
                    WriteObject(current);
                }

                return;
            }

            if (!ShouldProcess(TargetDescription(), ActionDescription(steps, target)))
            {
                return;
            }

            Store.Write(change, NetworkNamespace);
            if (Persist)
            {
                PersistOrPutBack(current, target);
            }

            if (Store.AppliesAtRestart)
            {
                WriteWarning(HostWarning.Text(this, $"{Store.Rules.Platform} applies the keepalive at boot: restart the computer for the new values to take effect; running sockets keep their values until then."));
            }

            if (!PassThru && NetworkNamespace != null)
            {
                return; // another namespace has no after-reboot values to warn about: read back only for -PassThru
            }

            var after = Store.Read(NetworkNamespace);
            WarnAboutReboot(after, Persist
                ? $"A file applied after {Store.PersistTarget} sets them: change or remove that line."
                : "Add -Persist to keep the new values.");
            if (PassThru)
            {
                WriteObject(after);
            }
        }

        /// <summary>Persists the full values; when that fails, puts the running values back so the change stays all or nothing.</summary>
        private void PersistOrPutBack(TcpKeepAliveSetting before, KeepAliveChange target)
        {
            try
            {
                Store.Persist(target);
            }
            catch (CloseWaitException failure)
            {
                string outcome;
                try
                {
                    Store.Write(new KeepAliveChange(before.Time, before.Interval, before.Probes), NetworkNamespace);
                    outcome = "The running values were put back, so nothing was changed.";
                }
                catch (CloseWaitException e)
                {
                    outcome = "Putting the running values back failed too: " + e.Message;
                }

                throw new CloseWaitException(failure.ErrorId, failure.Category, failure.Message + " " + outcome, failure.Target, failure)
                {
                    NativeError = failure.NativeError,
                };
            }
        }

        private string TargetDescription() =>
            NetworkNamespace == null ? $"TCP keepalive of {Environment.MachineName}" : $"TCP keepalive of network namespace {NetworkNamespace}";

        private string ActionDescription(List<KeepAliveTransaction.Step> steps, KeepAliveChange target)
        {
            var rules = Store.Rules;
            string set = string.Join(", ", steps.Select(s => $"{s.Field} {rules.Describe(s.Field, s.Old)} to {rules.Describe(s.Field, s.New)}"));
            if (!Persist)
            {
                return "Set " + set;
            }

            string persist = $"persist Time {target.Time}, Interval {target.Interval}, Probes {target.Probes} in {Store.PersistTarget}";
            return steps.Count == 0 ? char.ToUpperInvariant(persist[0]) + persist.Substring(1) : "Set " + set + "; " + persist;
        }
    }
}
