using System;
using System.Collections.Generic;
using System.Management.Automation;

namespace CloseWait.Commands
{
    /// <summary>
    /// The load-balancer check: do keepalive probes start before the device in front drops an idle
    /// flow (AWS NLB 350 s, Azure Load Balancer 4 min), and what to set when they do not.
    /// </summary>
    [Cmdlet(VerbsDiagnostic.Test, "TcpKeepAliveSetting")]
    [OutputType(typeof(TcpKeepAliveTestResult))]
    public sealed class TestTcpKeepAliveSettingCommand : KeepAliveCommandBase
    {
        private readonly System.Collections.Generic.Dictionary<string, TcpKeepAliveSetting> _settings = new System.Collections.Generic.Dictionary<string, TcpKeepAliveSetting>();
        private List<TcpKeepAliveSetting>? _all;

        /// <summary>The idle timeout of the device in front (seconds or hh:mm:ss).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [SecondsToTimeSpan]
        [ValidateTimeSpanRange(1, 365L * 24 * 3600)]
        public TimeSpan IdleTimeout { get; set; }

        /// <summary>Linux: test every network namespace in use on the host; says which containers keep the kernel defaults.</summary>
        [Parameter]
        public SwitchParameter AllNetworkNamespaces { get; set; }

        protected override void ProcessRecord()
        {
            if (AllNetworkNamespaces)
            {
                // One scan serves every piped idle timeout.
                foreach (var each in _all ??= ReadAllNamespaces())
                {
                    Test(each);
                }

                return;
            }

            // One read per namespace serves every piped idle timeout (a namespace read costs a thread and setns); a failed read is retried.
            string key = TargetNamespace ?? string.Empty;
            if (!_settings.TryGetValue(key, out var setting))
            {
                var read = TryRead();
                if (read == null)
                {
                    return;
                }

                _settings[key] = setting = read;
            }

            Test(setting);
        }

        private void Test(TcpKeepAliveSetting setting)
        {
            TcpKeepAliveTestResult result;
            try
            {
                result = KeepAliveAdvisor.Check(setting, IdleTimeout, Store.Rules);
            }
            catch (CloseWaitException e)
            {
                WriteError(e.ToErrorRecord());
                return;
            }

            WriteObject(result);
            WarnIfRebootFails(setting, result);
        }

        /// <summary>Running values that pass are little help when a reboot brings back values that fail.</summary>
        private void WarnIfRebootFails(TcpKeepAliveSetting setting, TcpKeepAliveTestResult now)
        {
            if (!setting.ChangesAfterReboot)
            {
                return;
            }

            var afterReboot = new TcpKeepAliveSetting
            {
                Time = setting.TimeAfterReboot ?? setting.Time,
                Interval = setting.IntervalAfterReboot ?? setting.Interval,
                Probes = setting.ProbesAfterReboot ?? setting.Probes,
            };
            try
            {
                var later = KeepAliveAdvisor.Check(afterReboot, IdleTimeout, Store.Rules);
                if (later.Verdict > now.Verdict)
                {
                    WriteWarning(HostWarning.Text(this, $"After a reboot the verdict would be {later.Verdict}: {later.Reason} The running values are not persisted: set them with -Persist."));
                }
            }
            catch (CloseWaitException)
            {
                // The reboot values leave no room for a recommendation either; the running values' result says enough.
            }
        }
    }
}
