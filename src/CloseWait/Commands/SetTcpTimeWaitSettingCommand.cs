using System;
using System.Linq;
using System.Management.Automation;
using CloseWait.Platform;

namespace CloseWait.Commands
{
    /// <summary>
    /// Changes the TIME_WAIT and ephemeral-port settings, all or nothing, optionally persisted;
    /// refuses the myths (a range below 1024 or over a listening port, a lower
    /// tcp_max_tw_buckets, tcp_tw_recycle) with the reason. Takes a setting from
    /// Get-TcpTimeWaitSetting through the pipeline, in the namespace it was read from.
    /// </summary>
    [Cmdlet(VerbsCommon.Set, "TcpTimeWaitSetting", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(TcpTimeWaitSetting))]
    public sealed class SetTcpTimeWaitSettingCommand : TimeWaitCommandBase
    {
        /// <summary>The ephemeral port range as START-END (Linux ip_local_port_range; macOS portrange.first/last).</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [SingleText("'32768-60999'")]
        public string? PortRange { get; set; }

        /// <summary>Linux ip_local_reserved_ports: ports and ranges separated by commas ("8080,9000-9010"); '' clears them.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [AllowEmptyString]
        [SingleText("'8080,9000-9010'")]
        public string? ReservedPorts { get; set; }

        /// <summary>Linux tcp_tw_reuse: 0 off, 1 on for outbound connections, 2 loopback only.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [WholeNumber(0, 2)]
        public int? TimeWaitReuse { get; set; }

        /// <summary>Linux tcp_max_tw_buckets; only raising it is allowed.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [WholeNumber(0, int.MaxValue)]
        public int? MaxTimeWaitBuckets { get; set; }

        /// <summary>Linux tcp_fin_timeout (seconds or hh:mm:ss): bounds FIN_WAIT_2 of orphaned connections, not TIME_WAIT.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [SecondsToTimeSpan]
        public TimeSpan? FinWait2Timeout { get; set; }

        /// <summary>Windows TcpTimedWaitDelay (30 to 300 s). Linux keeps TIME_WAIT for a fixed 60 s.</summary>
        [Parameter]
        [SecondsToTimeSpan]
        public TimeSpan? TimeWaitDuration { get; set; }

        /// <summary>macOS net.inet.tcp.msl; TIME_WAIT lasts twice this.</summary>
        [Parameter]
        [SecondsToTimeSpan]
        public TimeSpan? MaximumSegmentLifetime { get; set; }

        /// <summary>tcp_tw_recycle was removed in Linux 4.12: always refused, with why and what to do instead.</summary>
        [Parameter(DontShow = true)]
        [WholeNumber(0, 1)]
        public int? TimeWaitRecycle { get; set; }

        /// <summary>Make the given values survive a reboot: a drop-in under /etc/sysctl.d (Linux), keeping any other line in it.</summary>
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
            var change = Change(out CloseWaitException? invalid);
            if (invalid == null && change.IsEmpty)
            {
                invalid = new CloseWaitException(ErrorIds.TimeWaitNothingToSet, ErrorCategory.InvalidArgument,
                    "Nothing to set: give -PortRange, -ReservedPorts, -TimeWaitReuse, -MaxTimeWaitBuckets or -FinWait2Timeout (or pipe in a setting).");
            }

            invalid ??= RefuseNamespaceHere() ?? RefuseListedElsewhere(NetworkNamespaceId, ComputerName, BootId);
            if (invalid == null && Persist && TargetNamespace != null)
            {
                invalid = new CloseWaitException(ErrorIds.PersistNotSupportedForNetworkNamespace, ErrorCategory.InvalidArgument,
                    $"-Persist writes a drop-in under the host's /etc/sysctl.d, which applies to the host's network namespace at boot, not to network namespace {TargetNamespace} (given, or carried by the piped setting). " +
                    "Persist a container's settings through its runtime (docker run --sysctl net.ipv4.ip_local_port_range='32768 60999', Kubernetes securityContext.sysctls); leave out -Persist to change them now.",
                    TargetNamespace);
            }

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

        private TimeWaitChange Change(out CloseWaitException? invalid)
        {
            invalid = null;
            if (TimeWaitRecycle != null)
            {
                invalid = TimeWaitRules.RecycleRemoved();
            }

            var change = new TimeWaitChange
            {
                ReservedPorts = ReservedPorts,
                TimeWaitReuse = TimeWaitReuse,
                MaxTimeWaitBuckets = MaxTimeWaitBuckets,
                FinWait2Timeout = FinWait2Timeout,
                TimeWaitDuration = TimeWaitDuration,
                MaximumSegmentLifetime = MaximumSegmentLifetime,
            };
            if (PortRange != null)
            {
                change.PortRange = TimeWaitRules.ParsePortRange(PortRange, out string? why);
                if (change.PortRange == null && invalid == null)
                {
                    invalid = new CloseWaitException(ErrorIds.PortRangeInvalid, ErrorCategory.InvalidArgument, why + " Nothing was changed.", PortRange);
                }
            }

            return change;
        }

        private void Apply(TimeWaitChange change, string? ns)
        {
            // Read once (one namespace entry), plan once; the plan confirmed is the plan written.
            var plan = TimeWaitPlan.Make(Store, change, ns);
            var current = plan.Reading.Current;
            if (Persist && Store.PersistTarget == null)
            {
                Store.Persist(change); // throws this platform's explanation before anything is written
            }

            if (change.PortRange is (int start, int end) && plan.Reading.InUse is int inUse && current.PortRangeStart is int curStart && current.PortRangeEnd is int curEnd)
            {
                // Connections that hold a port of the current range now: a narrower range runs out at once.
                int size = end - start + 1;
                if (size < inUse)
                {
                    WriteWarning($"The port range {start}-{end} holds {size} port(s), fewer than the {inUse} TCP connection(s) using a port of the current range {curStart}-{curEnd} now: new outbound connections will fail (EADDRNOTAVAIL) until enough of them close.");
                }
            }

            string action = string.Join(", ", change.Given().Select(f => $"{f} to {Describe(change, f)}"));
            string target = ns == null ? $"TCP TIME_WAIT settings of {Environment.MachineName}" : $"TCP TIME_WAIT settings of network namespace {ns}";
            if (!ShouldProcess(target, "Set " + action + (Persist ? $"; persist them in {Store.PersistTarget}" : string.Empty)))
            {
                return;
            }

            // Exactly the confirmed change, or nothing if the values moved; the values after it read in the same entry.
            var after = plan.Apply(Persist, readBack: PassThru);
            if (change.FinWait2Timeout != null)
            {
                WriteWarning(HostWarning.Text(this, "FinWait2Timeout (tcp_fin_timeout) bounds how long an orphaned connection waits in FIN_WAIT_2; it does not shorten TIME_WAIT, which Linux keeps for 60 s. To open more connections to one destination, widen -PortRange, set -TimeWaitReuse 1, or reuse connections."));
            }

            if (Store.AppliesAtRestart)
            {
                WriteWarning(HostWarning.Text(this, $"{Store.Platform} applies these settings at boot: restart the computer for them to take effect."));
            }

            if (PassThru && after != null)
            {
                WriteObject(after);
            }
        }

        private static string Describe(TimeWaitChange c, TimeWaitField f) =>
            f == TimeWaitField.PortRange ? $"{c.PortRange!.Value.Start}-{c.PortRange!.Value.End}"
            : f == TimeWaitField.ReservedPorts ? (c.ReservedPorts!.Length == 0 ? "none" : c.ReservedPorts!)
            : f == TimeWaitField.TimeWaitReuse ? c.TimeWaitReuse!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)
            : f == TimeWaitField.MaxTimeWaitBuckets ? c.MaxTimeWaitBuckets!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)
            : f == TimeWaitField.FinWait2Timeout ? c.FinWait2Timeout!.Value.ToString()
            : f == TimeWaitField.TimeWaitDuration ? c.TimeWaitDuration!.Value.ToString()
            : c.MaximumSegmentLifetime!.Value.ToString();
    }
}
