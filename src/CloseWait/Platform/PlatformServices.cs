using System;
using System.Management.Automation;
using System.Runtime.InteropServices;
using CloseWait.Platform.Linux;
using CloseWait.Platform.MacOS;
using CloseWait.Platform.Windows;

namespace CloseWait.Platform
{
    /// <summary>
    /// The platform back ends, chosen once at run time: one DLL serves every OS.
    /// </summary>
    internal static class PlatformServices
    {
        internal const string Linux = "Linux";
        internal const string Windows = "Windows";
        internal const string MacOS = "macOS";

        private static Lazy<ISocketTable> _table = NewTable(CurrentPlatform);

        private static Lazy<IOwnerResolver> _owners = NewOwners(CurrentPlatform);

        private static readonly Lazy<IKeepAliveStore> KeepAlive = new Lazy<IKeepAliveStore>(() => Choose<IKeepAliveStore>(
            linux: () => new LinuxKeepAliveStore(),
            windows: () => new WindowsKeepAliveStore(),
            macOS: () => new MacOSKeepAliveStore()));

        private static Lazy<IProcessDescriptors> _descriptors = NewDescriptors(CurrentPlatform);

        internal static ISocketTable SocketTable => _table.Value;

        /// <summary>Open descriptors and their limit per process (Linux); elsewhere none are read.</summary>
        internal static IProcessDescriptors ProcessDescriptors => _descriptors.Value;

        private static Lazy<IProcessTable> _processes = NewProcesses(CurrentPlatform);

        /// <summary>Parents, names and command lines of processes (Linux /proc); elsewhere none are read.</summary>
        internal static IProcessTable ProcessTable => _processes.Value;
        private static readonly Lazy<ITimeWaitStore> TimeWait = new Lazy<ITimeWaitStore>(() => Choose<ITimeWaitStore>(
            linux: () => new LinuxTimeWaitStore(),
            windows: () => new WindowsTimeWaitStore(),
            macOS: () => new MacOSTimeWaitStore()));

        /// <summary>The TIME_WAIT settings store.</summary>
        internal static ITimeWaitStore TimeWaitStore => TimeWaitStoreOverride ?? TimeWait.Value;

        /// <summary>Tests point the TIME_WAIT cmdlets at a store of their own (a scratch sysctl tree).</summary>
        internal static ITimeWaitStore? TimeWaitStoreOverride { get; set; }

        internal static IKeepAliveStore KeepAliveStore => KeepAliveStoreOverride ?? KeepAlive.Value;

        /// <summary>Tests point the keepalive cmdlets at a store of their own (a scratch sysctl tree, an injected write failure).</summary>
        internal static IKeepAliveStore? KeepAliveStoreOverride { get; set; }

        /// <summary>A closer for one cmdlet call (it holds kernel handles until disposed).</summary>
        internal static ISocketCloser CreateSocketCloser() => Choose<ISocketCloser>(
            linux: () => new LinuxSocketCloser(() => OwnerResolver),
            windows: () => new WindowsSocketCloser(SocketTable),
            macOS: () => throw new CloseWaitException(ErrorIds.SocketCloseNotSupported, ErrorCategory.NotImplemented,
                "macOS offers no way to close another process's socket. Stop the owning process instead (Stop-Process)."));

        internal static IOwnerResolver OwnerResolver => _owners.Value;

        private static readonly Lazy<string?> Boot = new Lazy<string?>(() =>
            IsLinux ? LinuxHostIdentity.ReadBootId() : IsWindows ? WindowsHostIdentity.ReadBootId() : null);

        /// <summary>The machine and boot whose kernel numbers this machine's socket cookies; null where unknown (macOS).</summary>
        internal static string? BootId => Boot.Value;

        /// <summary>
        /// The one resolution of -NetworkNamespace (null: the caller's own), at the command boundary:
        /// the spec as typed, its inode (read from the namespace file, without entering it), how to
        /// enter it, and this host and boot. Throws CloseWaitException when it names nothing, and off
        /// Linux when a namespace is given.
        /// </summary>
        internal static NamespaceIdentity ResolveNamespace(string? networkNamespace)
        {
            if (IsLinux)
            {
                return LinuxNetworkNamespace.Identify(networkNamespace, Environment.MachineName, BootId);
            }

            RefuseNetworkNamespace(networkNamespace);
            return Here();
        }

        /// <summary>
        /// Runs <paramref name="body"/> inside the resolved namespace, entering it once (Linux: on a
        /// thread that joins it and ends with the work); the caller's own namespace (no spec) runs
        /// here. Inside, reads of that same namespace (the socket table, the settings stores) do not
        /// enter it again, and a store's read of "the caller's namespace" reads this one.
        /// </summary>
        internal static T InNamespace<T>(NamespaceIdentity? where, Func<T> body) =>
            where == null || where.IsOwn || !IsLinux ? body() : LinuxNetworkNamespace.Run(where, body);

        /// <summary>The caller's own namespace on this host and boot, with no inode (off Linux, and for tables with none).</summary>
        internal static NamespaceIdentity Here() =>
            new NamespaceIdentity(null, null, Array.Empty<string>(), Environment.MachineName, BootId);
        /// <summary>
        /// The compact counter of the current back ends (Linux netlink, with the /proc owner walk
        /// unless <paramref name="withOwners"/> is false); null where the back ends have none
        /// (other platforms, substituted back ends): the summary then lists connections.
        /// </summary>
        internal static ISummaryCounter? CreateSummaryCounter(bool withOwners)
        {
            if (!(SocketTable is LinuxSocketTable table))
            {
                return null;
            }

            if (!withOwners)
            {
                return new LinuxSummaryCounter(table, null);
            }

            return OwnerResolver is LinuxOwnerResolver owners ? new LinuxSummaryCounter(table, owners) : null;
        }

        /// <summary>A container resolver for one call (it caches what it reads); null where there are no containers to name.</summary>
        internal static IContainerResolver? CreateContainerResolver() => IsLinux && _owners.Value is LinuxOwnerResolver ? new LinuxContainers() : null;

        internal static bool IsLinux => RuntimeInformation.IsOSPlatform(OSPlatform.Linux);

        internal static bool IsWindows => RuntimeInformation.IsOSPlatform(OSPlatform.Windows);

        internal static bool IsMacOS => RuntimeInformation.IsOSPlatform(OSPlatform.OSX);

        /// <summary>Running as root (Linux); elsewhere false, as the owner lookups there need no elevation hint.</summary>
        internal static bool IsPrivileged => IsLinux && Interop.Libc.geteuid() == 0;

        internal static string CurrentPlatform => IsLinux ? Linux : IsWindows ? Windows : IsMacOS ? MacOS : RuntimeInformation.OSDescription;

        /// <summary>
        /// Tests: choose the socket table and owner back ends as on another platform (a name that is
        /// none of ours acts as an unsupported OS), until the result is disposed.
        /// </summary>
        internal static IDisposable UseBackEndsOf(string platform) =>
            Swap(NewTable(platform), NewOwners(platform), NewDescriptors(platform), NewProcesses(platform));

        /// <summary>
        /// Tests: use the given back ends (a Windows table over a constructed buffer, say) until
        /// disposed; no descriptor counts unless given, as the PIDs of such a table are not this machine's.
        /// </summary>
        internal static IDisposable UseBackEnds(ISocketTable table, IOwnerResolver owners, IProcessDescriptors? descriptors = null) =>
            Swap(new Lazy<ISocketTable>(() => table), new Lazy<IOwnerResolver>(() => owners),
                new Lazy<IProcessDescriptors>(() => descriptors ?? new NoProcessDescriptors()),
                new Lazy<IProcessTable>(() => new NoProcessTable()));

        private static IDisposable Swap(Lazy<ISocketTable> table, Lazy<IOwnerResolver> owners, Lazy<IProcessDescriptors> descriptors, Lazy<IProcessTable> processes)
        {
            var restore = new Restore(_table, _owners, _descriptors, _processes);
            _table = table;
            _owners = owners;
            _descriptors = descriptors;
            _processes = processes;
            return restore;
        }

        private static Lazy<IProcessTable> NewProcesses(string platform) => new Lazy<IProcessTable>(() =>
            platform == Linux ? new LinuxProcessTable() : (IProcessTable)new NoProcessTable());

        private static Lazy<IProcessDescriptors> NewDescriptors(string platform) => new Lazy<IProcessDescriptors>(() =>
            platform == Linux ? new LinuxProcessDescriptors() : (IProcessDescriptors)new NoProcessDescriptors());

        private static Lazy<ISocketTable> NewTable(string platform) => new Lazy<ISocketTable>(() => Choose<ISocketTable>(platform,
            linux: () => new LinuxSocketTable(),
            windows: () => new WindowsSocketTable(),
            macOS: () => new MacOSSocketTable()));

        private static Lazy<IOwnerResolver> NewOwners(string platform) => new Lazy<IOwnerResolver>(() => Choose<IOwnerResolver>(platform,
            linux: () => new LinuxOwnerResolver(),
            windows: () => new WindowsOwnerResolver(),
            macOS: () => new MacOSOwnerResolver()));

        private static T Choose<T>(Func<T>? linux, Func<T>? windows, Func<T>? macOS)
            where T : class => Choose(CurrentPlatform, linux, windows, macOS);

        private static T Choose<T>(string platform, Func<T>? linux, Func<T>? windows, Func<T>? macOS)
            where T : class
        {
            Func<T>? make = platform == Linux ? linux : platform == Windows ? windows : platform == MacOS ? macOS : null;
            if (make == null)
            {
                throw Unsupported(platform);
            }

            return make();
        }

        /// <summary>The error for -NetworkNamespace off Linux.</summary>
        internal static CloseWaitException NetworkNamespaceNotSupported(string networkNamespace) =>
            new CloseWaitException(ErrorIds.NetworkNamespaceNotSupported, ErrorCategory.InvalidArgument,
                "-NetworkNamespace is a Linux feature; leave it out on this platform.", networkNamespace);

        /// <summary>For the back ends that have no network namespaces: throws that error when one is given.</summary>
        internal static void RefuseNetworkNamespace(string? networkNamespace)
        {
            if (networkNamespace != null)
            {
                throw NetworkNamespaceNotSupported(networkNamespace);
            }
        }

        /// <summary>Every network namespace in use on the host, with its containers (Linux only).</summary>
        internal static System.Collections.Generic.List<NetworkNamespaceEntry> ListNetworkNamespaces(System.Threading.CancellationToken cancellationToken) =>
            IsLinux ? LinuxNamespaceScan.Describe(cancellationToken) : throw AllNetworkNamespacesNotSupported();

        /// <summary>The error for -AllNetworkNamespaces off Linux.</summary>
        internal static CloseWaitException AllNetworkNamespacesNotSupported() =>
            new CloseWaitException(ErrorIds.AllNetworkNamespacesNotSupported, ErrorCategory.InvalidArgument,
                "-AllNetworkNamespaces is a Linux feature (other systems have one socket table); leave it out on this platform.");

        internal static CloseWaitException Unsupported(string platform) =>
            new CloseWaitException(ErrorIds.PlatformNotSupported, ErrorCategory.NotImplemented,
                $"CloseWait does not support {platform}. It runs on Linux, Windows and macOS.", platform);

        private sealed class Restore : IDisposable
        {
            private readonly Lazy<ISocketTable> _table;
            private readonly Lazy<IOwnerResolver> _owners;
            private readonly Lazy<IProcessDescriptors> _descriptors;
            private readonly Lazy<IProcessTable> _processes;

            internal Restore(Lazy<ISocketTable> table, Lazy<IOwnerResolver> owners, Lazy<IProcessDescriptors> descriptors, Lazy<IProcessTable> processes)
            {
                _table = table;
                _owners = owners;
                _descriptors = descriptors;
                _processes = processes;
            }

            public void Dispose()
            {
                PlatformServices._table = _table;
                PlatformServices._owners = _owners;
                PlatformServices._descriptors = _descriptors;
                PlatformServices._processes = _processes;
            }
        }
    }
}
