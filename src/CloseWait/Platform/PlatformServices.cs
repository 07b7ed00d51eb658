using System;
using System.Management.Automation;
using System.Runtime.InteropServices;
using CloseWait.Platform.Linux;
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

        private static readonly Lazy<Func<ISocketCloser>> Closers = new Lazy<Func<ISocketCloser>>(() => Choose<Func<ISocketCloser>>(
            linux: () => () => new LinuxSocketCloser(() => OwnerResolver),
            windows: () => () => new WindowsSocketCloser(SocketTable),
            macOS: () => () => throw new CloseWaitException("SocketCloseNotSupported", ErrorCategory.NotImplemented,
                "macOS offers no way to close another process's socket. Stop the owning process instead (Stop-Process).")));

        internal static ISocketTable SocketTable => Table.Value;

        /// <summary>A closer for one cmdlet call (it holds kernel handles until disposed).</summary>
        internal static ISocketCloser CreateSocketCloser() => Closers.Value();

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

        internal static CloseWaitException Unsupported() =>
            new CloseWaitException("PlatformNotSupported", ErrorCategory.NotImplemented,
                $"CloseWait does not support {RuntimeInformation.OSDescription}. It runs on Linux, Windows and macOS.");
    }
}
