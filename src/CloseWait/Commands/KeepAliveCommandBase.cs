using System.Collections.Generic;
using System.Linq;
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
            Store = OpenStore(() => PlatformServices.KeepAliveStore);
        }

        /// <summary>Reads the setting, or writes the failure as a non-terminating error and returns null.</summary>
        internal TcpKeepAliveSetting? TryRead() => TryRead(Store.Read);

        /// <summary>
        /// -AllNetworkNamespaces (Get- and Test-): the setting of every network namespace in use on
        /// the host, each naming its containers; a namespace that vanishes before it is read is
        /// skipped with one warning at the end, any other failure is a non-terminating error.
        /// </summary>
        internal List<TcpKeepAliveSetting> ReadAllNamespaces()
        {
            NamespaceScanReporter.Validate(this, true, NetworkNamespace);
            var settings = new List<TcpKeepAliveSetting>();
            var scan = new NamespaceScanReporter(this);
            List<NetworkNamespaceEntry> entries;
            try
            {
                entries = PlatformServices.ListNetworkNamespaces(default);
            }
            catch (CloseWaitException e)
            {
                ThrowTerminatingError(e.ToErrorRecord());
                return settings;
            }

            scan.Begin(entries.Count);
            foreach (var ns in entries)
            {
                TcpKeepAliveSetting setting;
                try
                {
                    setting = Store.Read(ns.Spec);
                }
                catch (CloseWaitException e) when (scan.Vanished(ns, e))
                {
                    continue;
                }
                catch (CloseWaitException e)
                {
                    WriteError(e.ToErrorRecord());
                    continue;
                }
                finally
                {
                    scan.Next();
                }

                ns.Identity().Locate(setting);
                setting.Containers = ns.Containers;
                setting.PodNamespace = ns.PodNamespace;
                setting.PodName = ns.PodName;
                settings.Add(setting);
            }

            scan.Complete();
            return settings;
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
