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

        internal static ISocketTable SocketTable => _table.Value;

        internal static IKeepAliveStore KeepAliveStore => KeepAliveStoreOverride ?? KeepAlive.Value;

        /// <summary>Tests point the keepalive cmdlets at a store of their own (a scratch sysctl tree, an injected write failure).</summary>
        internal static IKeepAliveStore? KeepAliveStoreOverride { get; set; }

        /// <summary>A closer for one cmdlet call (it holds kernel handles until disposed).</summary>
        internal static ISocketCloser CreateSocketCloser() => Choose<ISocketCloser>(
            linux: () => new LinuxSocketCloser(() => OwnerResolver),
            windows: () => new WindowsSocketCloser(SocketTable),
            macOS: () => throw new CloseWaitException("SocketCloseNotSupported", ErrorCategory.NotImplemented,
                "macOS offers no way to close another process's socket. Stop the owning process instead (Stop-Process)."));

        internal static IOwnerResolver OwnerResolver => _owners.Value;

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
            Swap(NewTable(platform), NewOwners(platform));

        /// <summary>Tests: use the given back ends (a Windows table over a constructed buffer, say) until disposed.</summary>
        internal static IDisposable UseBackEnds(ISocketTable table, IOwnerResolver owners) =>
            Swap(new Lazy<ISocketTable>(() => table), new Lazy<IOwnerResolver>(() => owners));

        private static IDisposable Swap(Lazy<ISocketTable> table, Lazy<IOwnerResolver> owners)
        {
            var restore = new Restore(_table, _owners);
            _table = table;
            _owners = owners;
            return restore;
        }

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
            new CloseWaitException("NetworkNamespaceNotSupported", ErrorCategory.InvalidArgument,
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
            new CloseWaitException("PlatformNotSupported", ErrorCategory.NotImplemented,
                $"CloseWait does not support {platform}. It runs on Linux, Windows and macOS.", platform);

        private sealed class Restore : IDisposable
        {
            private readonly Lazy<ISocketTable> _table;
            private readonly Lazy<IOwnerResolver> _owners;

            internal Restore(Lazy<ISocketTable> table, Lazy<IOwnerResolver> owners)
            {
                _table = table;
                _owners = owners;
            }

            public void Dispose()
            {
                PlatformServices._table = _table;
                PlatformServices._owners = _owners;
            }
        }
    }
}
