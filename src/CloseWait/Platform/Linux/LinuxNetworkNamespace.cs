using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Management.Automation;
using System.Threading;

namespace CloseWait.Platform.Linux
{
    /// <summary>
    /// Runs work inside another network namespace. Namespaces are per thread on Linux: a dedicated
    /// thread joins the namespace with setns(), does the work (netlink sockets it opens and
    /// /proc/thread-self/net and /proc/sys/net files it reads are that namespace's), and ends,
    /// so no pooled thread is ever left in a foreign namespace.
    /// </summary>
    internal static class LinuxNetworkNamespace
    {
        /// <summary>Turns a PID ("1234") or a path (/proc/1234/ns/net, /run/netns/name) into the namespace file path.</summary>
        internal static string ResolvePath(string spec)
        {
            string s = (spec ?? string.Empty).Trim();
            if (s.Length == 0)
            {
                throw new CloseWaitException(ErrorIds.InvalidNetworkNamespace, ErrorCategory.InvalidArgument,
                    "The network namespace is empty. Give a process ID (its namespace is used) or a path such as /proc/<pid>/ns/net or /run/netns/<name>.", spec);
            }

            string path;
            if (int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                path = "/proc/" + pid.ToString(CultureInfo.InvariantCulture) + "/ns/net";
                if (!File.Exists(path) && !Directory.Exists("/proc/" + pid.ToString(CultureInfo.InvariantCulture)))
                {
                    throw new CloseWaitException(ErrorIds.NetworkNamespaceNotFound, ErrorCategory.ObjectNotFound,
                        $"No process {pid} exists, so its network namespace cannot be read. Give the PID of a running process or a path such as /run/netns/<name>.", spec);
                }
            }
            else if (s.IndexOf('/') < 0)
            {
                // A bare name, as `ip netns` shows them.
                path = "/run/netns/" + s;
            }
            else
            {
                path = s;
            }

            if (!File.Exists(path) && !Directory.Exists(path))
            {
                throw new CloseWaitException(ErrorIds.NetworkNamespaceNotFound, ErrorCategory.ObjectNotFound,
                    $"The network namespace '{s}' was not found at {path}. Give a process ID, a name listed by `ip netns`, or a path such as /proc/<pid>/ns/net.", spec);
            }

            return path;
        }

        /// <summary>Runs <paramref name="body"/> on a new thread that has joined the namespace; rethrows its exception.</summary>
        internal static T Run<T>(string spec, Func<T> body)
        {
            string path = ResolvePath(spec);
            T result = default!;
            Exception? failure = null;
            var thread = new Thread(() =>
            {
                try
                {
                    Join(path, spec);
                    result = body();
                }
                catch (Exception e)
                {
                    failure = e;
                }
            });
            thread.IsBackground = true;
            thread.Start();
            thread.Join();
            if (failure != null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
            }

            return result;
        }

        /// <summary>
        /// Streams what <paramref name="producer"/> yields on a thread inside the namespace to the
        /// calling thread, through a small bounded queue so memory stays flat.
        /// </summary>
        internal static IEnumerable<T> Stream<T>(string spec, Func<CancellationToken, IEnumerable<T>> producer, CancellationToken cancellationToken)
        {
            string path = ResolvePath(spec);
            using var queue = new BlockingCollection<T>(boundedCapacity: 1024);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            Exception? failure = null;
            var thread = new Thread(() =>
            {
                try
                {
                    Join(path, spec);
                    foreach (var item in producer(linked.Token))
                    {
                        queue.Add(item, linked.Token);
                    }
                }
                catch (OperationCanceledException)
                {
                }
                catch (Exception e)
                {
                    failure = e;
                }
                finally
                {
                    queue.CompleteAdding();
                }
            });
            thread.IsBackground = true;
            thread.Start();
            try
            {
                foreach (var item in queue.GetConsumingEnumerable(cancellationToken))
                {
                    yield return item;
                }
            }
            finally
            {
                linked.Cancel();
                thread.Join();
            }

            if (failure != null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
            }
        }

        private static void Join(string path, string spec)
        {
            int fd = OpenNetworkNamespace(path, spec);
            try
            {
                if (Interop.Libc.setns(fd, Interop.Libc.CLONE_NEWNET) != 0)
                {
                    int errno = LinuxErrno.Last();
                    throw errno == Interop.Libc.EPERM
                        ? new CloseWaitException(ErrorIds.NetworkNamespaceAccessDenied, ErrorCategory.PermissionDenied,
                            $"Cannot enter the network namespace {path}: {LinuxErrno.Describe(errno)}. Entering another namespace needs root (CAP_SYS_ADMIN). " + LinuxErrno.PermissionAdvice("CAP_SYS_ADMIN"), spec) { NativeError = errno }
                        : new CloseWaitException(ErrorIds.InvalidNetworkNamespace, ErrorCategory.InvalidArgument,
                            $"{path} is not a network namespace: {LinuxErrno.Describe(errno)}. {WhatToGive}", spec) { NativeError = errno };
                }
            }
            finally
            {
                Interop.Libc.close(fd);
            }
        }

        private const string WhatToGive = "Give a process ID (its namespace is used), a name listed by `ip netns`, or a path such as /proc/<pid>/ns/net or /run/netns/<name>.";

        /// <summary>
        /// Opens a network-namespace file and nothing else. The path is first opened with O_PATH,
        /// which neither blocks (a fifo would wait for a writer forever) nor runs a device's open,
        /// and must be on nsfs; only then is that same inode opened for setns, through
        /// /proc/self/fd, and its namespace type checked.
        /// </summary>
        internal static unsafe int OpenNetworkNamespace(string path, string spec)
        {
            var abi = Interop.LinuxAbi.Require();
            int probe = Interop.Libc.open(path, Interop.Libc.O_PATH | Interop.Libc.O_CLOEXEC);
            if (probe < 0)
            {
                int errno = LinuxErrno.Last();
                throw errno == Interop.Libc.EACCES || errno == Interop.Libc.EPERM
                    ? new CloseWaitException(ErrorIds.NetworkNamespaceAccessDenied, ErrorCategory.PermissionDenied,
                        $"Cannot open the network namespace {path}: {LinuxErrno.Describe(errno)}. Entering another namespace needs root (CAP_SYS_ADMIN): run elevated (sudo).", spec) { NativeError = errno }
                    : new CloseWaitException(ErrorIds.NetworkNamespaceNotFound, ErrorCategory.ObjectNotFound,
                        $"Cannot open the network namespace {path}: {LinuxErrno.Describe(errno)}. {WhatToGive}", spec) { NativeError = errno };
            }

            try
            {
                var statfs = new byte[abi.StatfsSize];
                fixed (byte* buf = statfs)
                {
                    if (Interop.Libc.fstatfs(probe, buf) != 0 || abi.StatfsType(statfs) != Interop.Libc.NSFS_MAGIC)
                    {
                        throw new CloseWaitException(ErrorIds.InvalidNetworkNamespace, ErrorCategory.InvalidArgument,
                            $"{path} is not a namespace file ({DescribeType(probe)}), so it was not opened. {WhatToGive}", spec);
                    }
                }

                int fd = Interop.Libc.open("/proc/self/fd/" + probe.ToString(CultureInfo.InvariantCulture), Interop.Libc.O_RDONLY | Interop.Libc.O_NONBLOCK | Interop.Libc.O_NOCTTY | Interop.Libc.O_CLOEXEC);
                if (fd < 0)
                {
                    // No /proc: the path was a namespace file a moment ago, and an nsfs open neither blocks nor has side effects.
                    fd = Interop.Libc.open(path, Interop.Libc.O_RDONLY | Interop.Libc.O_NONBLOCK | Interop.Libc.O_NOCTTY | Interop.Libc.O_CLOEXEC);
                    if (fd < 0)
                    {
                        int errno = LinuxErrno.Last();
                        throw new CloseWaitException(ErrorIds.NetworkNamespaceNotFound, ErrorCategory.ObjectNotFound,
                            $"Cannot open the network namespace {path}: {LinuxErrno.Describe(errno)}. {WhatToGive}", spec) { NativeError = errno };
                    }
                }

                // NS_GET_NSTYPE (Linux 4.11+); older kernels answer ENOTTY and leave the check to setns.
                int type = Interop.Libc.ioctl(fd, (UIntPtr)abi.NS_GET_NSTYPE, IntPtr.Zero);
                if (type >= 0 && type != Interop.Libc.CLONE_NEWNET)
                {
                    Interop.Libc.close(fd);
                    throw new CloseWaitException(ErrorIds.InvalidNetworkNamespace, ErrorCategory.InvalidArgument,
                        $"{path} is a {NamespaceKind(type)} namespace, not a network namespace. {WhatToGive}", spec);
                }

                return fd;
            }
            finally
            {
                Interop.Libc.close(probe);
            }
        }

        private static string NamespaceKind(int cloneFlag)
        {
            switch (cloneFlag)
            {
                case 0x00020000: return "mount";
                case 0x04000000: return "UTS";
                case 0x08000000: return "IPC";
                case 0x10000000: return "user";
                case 0x20000000: return "PID";
                case 0x02000000: return "cgroup";
                case 0x00000080: return "time";
                default: return "different kind of";
            }
        }

        /// <summary>What an opened path is, in words, for the refusal (statx of the O_PATH descriptor).</summary>
        private static unsafe string DescribeType(int fd)
        {
            const uint STATX_TYPE = 0x1;
            byte* buf = stackalloc byte[Interop.Libc.StatxSize];
            byte empty = 0;
            try
            {
                if (Interop.Libc.statx(fd, &empty, Interop.Libc.AT_EMPTY_PATH, STATX_TYPE, buf) != 0)
                {
                    return "of unknown type";
                }
            }
            catch (EntryPointNotFoundException)
            {
                return "of unknown type";
            }

            switch (*(ushort*)(buf + Interop.Libc.StatxModeOffset) & 0xF000)
            {
                case 0x1000: return "a fifo";
                case 0x2000: return "a character device";
                case 0x4000: return "a directory";
                case 0x6000: return "a block device";
                case 0x8000: return "a regular file";
                case 0xA000: return "a symbolic link";
                case 0xC000: return "a socket";
                default: return "of unknown type";
            }
        }
    }
}
