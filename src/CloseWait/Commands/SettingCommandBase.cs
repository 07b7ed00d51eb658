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

                return read(TargetNamespace);
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
