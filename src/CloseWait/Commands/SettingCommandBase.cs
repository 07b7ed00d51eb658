using System;
using System.Management.Automation;
using CloseWait.Commands.Completers;
using CloseWait.Platform;

namespace CloseWait.Commands
{
    /// <summary>
    /// What the kernel-setting cmdlets share (keepalive, TIME_WAIT): -NetworkNamespace, given or
    /// taken from a piped setting, and its refusal off Linux.
    /// </summary>
    public abstract class SettingCommandBase : PSCmdlet
    {
        /// <summary>
        /// Linux: another network namespace (a container's) by PID, `ip netns` name or path. Bound by
        /// property name too, so a setting piped from a namespace acts on that namespace; a piped
        /// empty value (a CSV column, a host's setting) means the caller's own.
        /// </summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [AllowNull]
        [AllowEmptyString]
        [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
        public string? NetworkNamespace { get; set; }

        private bool _namespaceGiven;

        /// <summary>The namespace this record acts on: the one given, or the piped record's; null for the caller's own.</summary>
        internal string? TargetNamespace => _namespaceGiven || !string.IsNullOrWhiteSpace(NetworkNamespace) ? NetworkNamespace : null;

        /// <summary>Off Linux a namespace cannot be honoured: the error for this record, else null.</summary>
        internal CloseWaitException? RefuseNamespaceHere() =>
            TargetNamespace != null && !PlatformServices.IsLinux ? PlatformServices.NetworkNamespaceNotSupported(TargetNamespace) : null;

        /// <summary>
        /// The Set-* check of a piped setting whose NetworkNamespace picks the target: refused when it
        /// was read on another host, boot or namespace than that spec names now (a container
        /// restarted, a PID reused, a record from another machine), so it never changes whatever the
        /// spec leads to now, the host included. A typed -NetworkNamespace, and a setting of a host's
        /// own namespace (a baseline for any machine), are taken as given.
        /// </summary>
        internal CloseWaitException? RefuseListedElsewhere(ulong? namespaceId, string? computerName, string? bootId)
        {
            if (_namespaceGiven || TargetNamespace == null)
            {
                return null;
            }

            NamespaceIdentity now;
            try
            {
                now = PlatformServices.ResolveNamespace(TargetNamespace);
            }
            catch (CloseWaitException e)
            {
                return e;
            }

            string? elsewhere = now.Elsewhere(computerName, bootId, namespaceId);
            if (elsewhere == null)
            {
                return null;
            }

            string noun = MyInvocation.MyCommand.Name.Substring(MyInvocation.MyCommand.Name.IndexOf('-') + 1);
            return new CloseWaitException(ErrorIds.SettingListedElsewhere, ErrorCategory.InvalidArgument,
                $"This setting was read on {elsewhere}, so nothing was changed: '{TargetNamespace}' leads elsewhere now. " +
                $"Read the setting again where it should change (Get-{noun} -NetworkNamespace {TargetNamespace}, on host {computerName ?? "<host>"}) and pipe that, or give -NetworkNamespace to choose the target yourself.",
                TargetNamespace);
        }

        /// <summary>The platform's store for this command; a platform without one stops the command with its error.</summary>
        internal TStore OpenStore<TStore>(Func<TStore> open) where TStore : class
        {
            try
            {
                return open();
            }
            catch (CloseWaitException e)
            {
                ThrowTerminatingError(e.ToErrorRecord());
                return null!; // not reached: ThrowTerminatingError throws
            }
        }

        /// <summary>Reads the setting of <see cref="TargetNamespace"/>, or writes the failure as a non-terminating error and returns null.</summary>
        internal TSetting? TryRead<TSetting>(Func<string?, TSetting> read) where TSetting : class
        {
            try
            {
                var refused = RefuseNamespaceHere();
                if (refused != null)
                {
                    throw refused;
                }

                var setting = read(TargetNamespace);
                if (setting is ILocated located)
                {
                    // Read through the spec just resolved: the location is what it names now.
                    PlatformServices.ResolveNamespace(TargetNamespace).Locate(located);
                }

                return setting;
            }
            catch (CloseWaitException e)
            {
                WriteError(e.ToErrorRecord());
                return null;
            }
        }

        protected override void BeginProcessing()
        {
            // Only what was typed is bound yet: an empty -NetworkNamespace is an error, a piped empty one is the caller's namespace.
            _namespaceGiven = MyInvocation.BoundParameters.ContainsKey(nameof(NetworkNamespace));
            if (_namespaceGiven && string.IsNullOrWhiteSpace(NetworkNamespace))
            {
                ThrowTerminatingError(new CloseWaitException(ErrorIds.InvalidNetworkNamespace, ErrorCategory.InvalidArgument,
                    "-NetworkNamespace is empty. Give a process ID (its namespace is used), a name listed by `ip netns`, or a path such as /proc/<pid>/ns/net; leave it out for this namespace.",
                    NetworkNamespace).ToErrorRecord());
            }

            var refused = RefuseNamespaceHere();
            if (refused != null)
            {
                ThrowTerminatingError(refused.ToErrorRecord());
            }
        }
    }
}
