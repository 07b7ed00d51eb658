using System.Collections.Generic;
using System.Management.Automation;
using CloseWait.Platform;

namespace CloseWait.Commands
{
    /// <summary>What Get-, Set- and Test-TcpKeepAliveSetting share: -NetworkNamespace and the platform's keepalive store.</summary>
    public abstract class KeepAliveCommandBase : PSCmdlet
    {
        /// <summary>
        /// Linux: another network namespace (a container's) by PID, `ip netns` name or path. Bound by
        /// property name too, so a setting piped from a namespace acts on that namespace; a piped
        /// empty value (a CSV column, a host's setting) means the caller's own.
        /// </summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [AllowNull]
        [AllowEmptyString]
        public string? NetworkNamespace { get; set; }

        internal IKeepAliveStore Store { get; private set; } = null!;

        private bool _namespaceGiven;

        /// <summary>The namespace this record acts on: the one given, or the piped record's; null for the caller's own.</summary>
        internal string? TargetNamespace => _namespaceGiven || !string.IsNullOrWhiteSpace(NetworkNamespace) ? NetworkNamespace : null;

        /// <summary>Off Linux a namespace cannot be honoured: the error for this record, else null.</summary>
        internal CloseWaitException? RefuseNamespaceHere() =>
            TargetNamespace != null && !PlatformServices.IsLinux ? PlatformServices.NetworkNamespaceNotSupported(TargetNamespace) : null;

        protected override void BeginProcessing()
        {
            // Only what was typed is bound yet: an empty -NetworkNamespace is an error, a piped empty one is the caller's namespace.
            _namespaceGiven = MyInvocation.BoundParameters.ContainsKey(nameof(NetworkNamespace));
            if (_namespaceGiven && string.IsNullOrWhiteSpace(NetworkNamespace))
            {
                ThrowTerminatingError(new CloseWaitException("InvalidNetworkNamespace", ErrorCategory.InvalidArgument,
                    "-NetworkNamespace is empty. Give a process ID (its namespace is used), a name listed by `ip netns`, or a path such as /proc/<pid>/ns/net; leave it out for this namespace.",
                    NetworkNamespace).ToErrorRecord());
            }

            var refused = RefuseNamespaceHere();
            if (refused != null)
            {
                ThrowTerminatingError(refused.ToErrorRecord());
            }

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
                WriteWarning($"After a reboot the keepalive would be {string.Join(", ", later)}, not the running {string.Join(", ", now)}. {advice}");
            }
        }
    }
}
