using System.Collections.Generic;
using System.Management.Automation;
using CloseWait.Platform;
using CloseWait.Commands.Completers;

namespace CloseWait.Commands
{
    /// <summary>What Get-, Set- and Test-TcpKeepAliveSetting share: -NetworkNamespace and the platform's keepalive store.</summary>
    public abstract class KeepAliveCommandBase : SettingCommandBase
    {
        internal IKeepAliveStore Store { get; private set; } = null!;

        protected override void BeginProcessing()
        {
            base.BeginProcessing();
            try
            {
                Store = PlatformServices.KeepAliveStore;
            }
            catch (CloseWaitException e)
            {
                ThrowTerminatingError(e.ToErrorRecord());
            }
        }

        /// <summary>Reads the setting, or writes the failure as a non-terminating error and returns null.</summary>
        internal TcpKeepAliveSetting? TryRead()
        {
            try
            {
                var refused = RefuseNamespaceHere();
                if (refused != null)
                {
                    throw refused;
                }

                return Store.Read(TargetNamespace);
            }
            catch (CloseWaitException e)
            {
                WriteError(e.ToErrorRecord());
                return null;
            }
        }

        /// <summary>Says which values a reboot would change, and from where (Linux); <paramref name="advice"/> says what to do.</summary>
        internal void WarnAboutReboot(TcpKeepAliveSetting setting, string advice)
        {
            var later = new List<string>();
            var now = new List<string>();
            void Add(string name, object running, object? afterReboot, string? source)
            {
                if (afterReboot != null)
                {
                    later.Add($"{name} {afterReboot} ({source})");
                    now.Add($"{name} {running}");
                }
            }

            Add("Time", setting.Time, setting.TimeAfterReboot, setting.TimeAfterRebootSource);
            Add("Interval", setting.Interval, setting.IntervalAfterReboot, setting.IntervalAfterRebootSource);
            Add("Probes", setting.Probes, setting.ProbesAfterReboot, setting.ProbesAfterRebootSource);
            if (later.Count > 0)
            {
                WriteWarning(HostWarning.Text(this, $"After a reboot the keepalive would be {string.Join(", ", later)}, not the running {string.Join(", ", now)}. {advice}"));
            }
        }
    }
}
