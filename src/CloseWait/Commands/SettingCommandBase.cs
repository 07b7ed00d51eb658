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
        internal string? TargetNamespace => _namespaceGiven || !string.IsNullOrWhiteSpace(NetworkNamespace) ? NamespaceScanReporter.FromLocation(this, NetworkNamespace) : null;

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
            if (_namespaceGiven)
            {
                return RefuseConflict(namespaceId, computerName, bootId);
            }

            if (TargetNamespace == null)
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

        /// <summary>Set-*: the piped record itself, whose own NetworkNamespace a typed -NetworkNamespace hides from binding.</summary>
        internal virtual PSObject? PipedRecord => null;

        /// <summary>
        /// A typed -NetworkNamespace with a piped setting read in another network namespace (another
        /// host's, or another here): refused, since the piped values would land on a namespace they
        /// were not read in. A setting of a host's own namespace (no NetworkNamespace) is a baseline
        /// for any namespace and is taken.
        /// </summary>
        private CloseWaitException? RefuseConflict(ulong? namespaceId, string? computerName, string? bootId)
        {
            if (!(PipedRecord?.Properties["NetworkNamespace"]?.Value?.ToString() is string piped) || string.IsNullOrWhiteSpace(piped) || NetworkNamespace == null
                || string.Equals(NamespaceScanReporter.FromLocation(this, piped), NetworkNamespace, StringComparison.Ordinal))
            {
                return null;
            }

            NamespaceIdentity given;
            try
            {
                given = PlatformServices.ResolveNamespace(NetworkNamespace);
            }
            catch (CloseWaitException e)
            {
                return e;
            }

            ulong? listed = namespaceId;
            if (listed == null && computerName == null && bootId == null)
            {
                // A hand-made record: what its spec names here.
                try
                {
                    listed = PlatformServices.ResolveNamespace(NamespaceScanReporter.FromLocation(this, piped)).Inode;
                }
                catch (CloseWaitException)
                {
                    listed = null;
                }

                if (listed == null)
                {
                    return Conflict(piped);
                }
            }

            return given.Elsewhere(computerName, bootId, listed) == null ? null : Conflict(piped);
        }

        private CloseWaitException Conflict(string piped)
        {
            string noun = MyInvocation.MyCommand.Name.Substring(MyInvocation.MyCommand.Name.IndexOf('-') + 1);
            return new CloseWaitException(ErrorIds.SettingNamespaceConflict, ErrorCategory.InvalidArgument,
                $"This setting was read in network namespace '{piped}', but -NetworkNamespace names '{NetworkNamespace}', another namespace; nothing was changed. " +
                $"Leave out -NetworkNamespace to change '{piped}', or give the values for '{NetworkNamespace}' as parameters (for a baseline: ... | Select-Object * -ExcludeProperty NetworkNamespace* | {MyInvocation.MyCommand.Name} -NetworkNamespace {NetworkNamespace}).",
                NetworkNamespace);
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
            NamespaceScanReporter.RefuseEmpty(this, NetworkNamespace);
            if (_namespaceGiven)
            {
                NetworkNamespace = NamespaceScanReporter.FromLocation(this, NetworkNamespace);
            }

            var refused = RefuseNamespaceHere();
            if (refused != null)
            {
                ThrowTerminatingError(refused.ToErrorRecord());
            }
        }
    }
}
