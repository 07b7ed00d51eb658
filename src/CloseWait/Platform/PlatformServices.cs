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
        private static readonly Lazy<ISocketTable> Table = new Lazy<ISocketTable>(() => Choose<ISocketTable>(
            linux: () => new LinuxSocketTable(),
            windows: null,
            macOS: null));

        private static readonly Lazy<IOwnerResolver> Owners = new Lazy<IOwnerResolver>(() => Choose<IOwnerResolver>(
            linux: () => new LinuxOwnerResolver(),
            windows: null,
            macOS: null));

        private static readonly Lazy<IKeepAliveStore> KeepAlive = new Lazy<IKeepAliveStore>(() => Choose<IKeepAliveStore>(
            linux: () => new LinuxKeepAliveStore(),
            windows: () => new WindowsKeepAliveStore(),
            macOS: () => new MacOSKeepAliveStore()));

        internal static ISocketTable SocketTable => Table.Value;

        internal static IKeepAliveStore KeepAliveStore => KeepAliveStoreOverride ?? KeepAlive.Value;

        /// <summary>Tests point the keepalive cmdlets at a store of their own (a scratch sysctl tree, an injected write failure).</summary>
        internal static IKeepAliveStore? KeepAliveStoreOverride { get; set; }

        internal static IOwnerResolver OwnerResolver => Owners.Value;

        internal static bool IsLinux => RuntimeInformation.IsOSPlatform(OSPlatform.Linux);

        internal static bool IsWindows => RuntimeInformation.IsOSPlatform(OSPlatform.Windows);

        internal static bool IsMacOS => RuntimeInformation.IsOSPlatform(OSPlatform.OSX);

        private static T Choose<T>(Func<T>? linux, Func<T>? windows, Func<T>? macOS)
            where T : class
        {
            Func<T>? make = IsLinux ? linux : IsWindows ? windows : IsMacOS ? macOS : null;
            if (make == null)
            {
                throw Unsupported();
            }

            return make();
        }

        /// <summary>The error for -NetworkNamespace off Linux.</summary>
        internal static CloseWaitException NetworkNamespaceNotSupported(string networkNamespace) =>
            new CloseWaitException("NetworkNamespaceNotSupported", ErrorCategory.InvalidArgument,
                "-NetworkNamespace is a Linux feature; leave it out on this platform.", networkNamespace);

        internal static CloseWaitException Unsupported() =>
            new CloseWaitException("PlatformNotSupported", ErrorCategory.NotImplemented,
                $"CloseWait does not support {RuntimeInformation.OSDescription}. It runs on Linux, Windows and macOS.");
    }
}
