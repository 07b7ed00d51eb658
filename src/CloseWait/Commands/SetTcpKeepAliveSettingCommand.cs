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
        [WholeNumber(int.MinValue, int.MaxValue)]
        public int? Probes { get; set; }

        /// <summary>Make the values survive a reboot: a drop-in under /etc/sysctl.d (Linux); the registry already does (Windows).</summary>
        [Parameter]
        public SwitchParameter Persist { get; set; }

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        /// <summary>The piped setting itself: its NetworkNamespace is checked against a typed -NetworkNamespace.</summary>
        [Parameter(ValueFromPipeline = true, DontShow = true)]
        public PSObject? InputObject { get; set; }

        internal override PSObject? PipedRecord => InputObject;

        /// <summary>From a piped setting: the inode of the namespace it was read in (checked against what its NetworkNamespace names now).</summary>
        [Parameter(ValueFromPipelineByPropertyName = true, DontShow = true)]
        public ulong? NetworkNamespaceId { get; set; }

        /// <summary>From a piped setting: the host that read it.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true, DontShow = true)]
        public string? ComputerName { get; set; }

        /// <summary>From a piped setting: the boot that read it.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true, DontShow = true)]
        public string? BootId { get; set; }

        protected override void ProcessRecord()
        {
            var change = new KeepAliveChange(Time, Interval, Probes);
            if (change.IsEmpty && !Persist)
            {
                WriteError(new CloseWaitException(ErrorIds.KeepAliveNothingToSet, ErrorCategory.InvalidArgument,
                    "Nothing to set: give -Time, -Interval or -Probes (or pipe in a setting), or -Persist to persist the running values.").ToErrorRecord());
                return;
            }

            var invalid = RefuseNamespaceHere() ?? RefuseListedElsewhere(NetworkNamespaceId, ComputerName, BootId) ?? (Persist && TargetNamespace != null ? PersistRefused(TargetNamespace) : null) ?? Store.Rules.Validate(change);
            if (invalid != null)
            {
                WriteError(invalid.ToErrorRecord());
                return;
            }

            try
            {
                Apply(change, TargetNamespace);
            }
            catch (CloseWaitException e)
            {
                WriteError(e.ToErrorRecord());
            }
        }

        private static CloseWaitException PersistRefused(string networkNamespace) =>
            new CloseWaitException(ErrorIds.PersistNotSupportedForNetworkNamespace, ErrorCategory.InvalidArgument,
                $"-Persist writes a drop-in under the host's /etc/sysctl.d, which applies to the host's network namespace at boot, not to network namespace {networkNamespace} (given, or carried by the piped setting). " +
                "Persist a container's keepalive through its runtime (docker run --sysctl net.ipv4.tcp_keepalive_time=300, Kubernetes securityContext.sysctls); leave out -Persist to change it now.",
                networkNamespace);

        private void Apply(KeepAliveChange change, string? ns)
        {
            var current = Store.Read(ns);
            var target = change.Over(current);
            if (Persist)
            {
                // The drop-in gets every value: one carried over from the running ones must be valid too.
                var carried = Store.Rules.Validate(new KeepAliveChange(
                    change.Time == null ? current.Time : null,
                    change.Interval == null ? current.Interval : null,
                    change.Probes == null && !Store.Rules.ProbesFixed ? current.Probes : null));
                if (carried != null)
                {
                    throw new CloseWaitException(carried.ErrorId, ErrorCategory.InvalidData,
                        carried.Message.Replace(" Nothing was changed.", string.Empty) +
                        " That is the running value, which -Persist would write as it is: give the value to persist (-Time, -Interval or -Probes). Nothing was changed.",
                        carried.Target);
                }

                if (Store.PersistTarget == null)
                {
                    Store.Persist(target); // throws this platform's explanation before anything is written
                }
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

            if (!ShouldProcess(TargetDescription(ns), ActionDescription(steps, target)))
            {
                return;
            }

            // Exactly the confirmed steps, or nothing if the values moved; in another namespace -PassThru's values are read in the same entry.
            var written = Store.Write(change, ns, planned: current, readBack: PassThru && ns != null);
            if (Persist)
            {
                PersistOrPutBack(current, target, steps, ns);
            }

            if (Store.AppliesAtRestart)
            {
                WriteWarning(HostWarning.Text(this, $"{Store.Rules.Platform} applies the keepalive at boot: restart the computer for the new values to take effect; running sockets keep their values until then."));
            }

            if (!PassThru && ns != null)
            {
                return; // another namespace has no after-reboot values to warn about: read back only for -PassThru
            }

            var after = written ?? Store.Read(ns);
            WarnAboutReboot(after, Persist
                ? $"A file applied after {Store.PersistTarget} sets them: change or remove that line."
                : "Add -Persist to keep the new values.");
            if (PassThru)
            {
                WriteObject(after);
            }
        }

        /// <summary>Persists the full values; when that fails, puts back the running values just written, so the change stays all or nothing.</summary>
        private void PersistOrPutBack(TcpKeepAliveSetting before, KeepAliveChange target, List<KeepAliveTransaction.Step> written, string? ns)
        {
            try
            {
                Store.Persist(target);
            }
            catch (CloseWaitException failure)
            {
                string outcome;
                if (written.Count == 0)
                {
                    outcome = "No running value was changed either.";
                }
                else
                {
                    string values = string.Join(" and ", written.Select(s => $"{s.Field} back to {Store.Rules.Describe(s.Field, s.Old)}"));
                    try
                    {
                        Store.Write(new KeepAliveChange(before.Time, before.Interval, before.Probes), ns);
                        outcome = $"Put {values}, so nothing was changed.";
                    }
                    catch (CloseWaitException e)
                    {
                        outcome = $"Putting {values} failed too, so the new running values stay: " + e.Message;
                    }
                }

                throw new CloseWaitException(failure.ErrorId, failure.Category, failure.Message + " " + outcome, failure.Target, failure)
                {
                    NativeError = failure.NativeError,
                };
            }
        }

        private static string TargetDescription(string? ns) =>
            ns == null ? $"TCP keepalive of {Environment.MachineName}" : $"TCP keepalive of network namespace {ns}";

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
