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
                // A bare name, as `ip netns` shows them; otherwise a container's name or id (prefix).
                path = "/run/netns/" + s;
                if (!File.Exists(path) && LinuxContainers.FindNamespacePath(s) is string container)
                {
                    path = container;
                }
            }
            else
            {
                path = s;
            }

            if (!File.Exists(path) && !Directory.Exists(path))
            {
                throw new CloseWaitException(ErrorIds.NetworkNamespaceNotFound, ErrorCategory.ObjectNotFound,
                    $"The network namespace '{s}' was not found at {path}. Give a process ID, a name listed by `ip netns`, a running container's name or id (docker, podman, containerd, CRI-O), or a path such as /proc/<pid>/ns/net.", spec);
            }

            return path;
        }

        /// <summary>
        /// Resolves a spec (null: the caller's own namespace) once: its path, and the inode read from
        /// that path without entering it; container names cost one cgroup scan here and none later.
        /// </summary>
        internal static NamespaceIdentity Identify(string? spec, string? computerName, string? bootId)
        {
            if (spec == null)
            {
                ulong? own = OwnInode();
                return new NamespaceIdentity(null, own, new[] { "/proc/thread-self/ns/net" }, computerName, bootId, own is ulong o ? NetnsNameOf(o) : null);
            }

            // Opened and checked as for entering (nsfs, a network namespace, no fifo or device
            // opened), then closed: the inode comes from the descriptor, nothing is joined.
            string path = ResolvePath(spec);
            int fd = OpenNetworkNamespace(path, spec);
            ulong? inode;
            try
            {
                inode = InodeOfDescriptor(fd);
            }
            finally
            {
                Interop.Libc.close(fd);
            }

            return new NamespaceIdentity(spec, inode, new[] { path }, computerName, bootId, inode is ulong i ? NetnsNameOf(i) : null);
        }

        /// <summary>The `ip netns` name of a namespace, null when it has none.</summary>
        internal static string? NetnsNameOf(ulong inode)
        {
            foreach (var (name, path) in LinuxNamespaceScan.NetnsNames())
            {
                if (InodeOf(path) == inode)
                {
                    return name;
                }
            }

            return null;
        }

        /// <summary>Runs <paramref name="body"/> on a new thread that has joined the namespace; rethrows its exception.</summary>
        internal static T Run<T>(string spec, Func<T> body) => Run(NamespaceTarget.Of(spec), body);

        /// <summary>Runs <paramref name="body"/> on a new thread that has joined the resolved namespace (its inode checked); rethrows its exception.</summary>
        internal static T Run<T>(NamespaceIdentity identity, Func<T> body) => Run(NamespaceTarget.Of(identity), body, CancellationToken.None);

        /// <summary>As <see cref="Run{T}(NamespaceIdentity, Func{T})"/>; a cancellation (Ctrl+C) returns at once, see <see cref="Run{T}(NamespaceTarget, Func{T}, CancellationToken)"/>.</summary>
        internal static T Run<T>(NamespaceIdentity identity, Func<T> body, CancellationToken cancellationToken) => Run(NamespaceTarget.Of(identity), body, cancellationToken);

        /// <summary>
        /// The namespace this thread joined (set on the threads <see cref="Run{T}(NamespaceTarget, Func{T})"/>
        /// and <see cref="Stream{T}(NamespaceTarget, Func{CancellationToken, IEnumerable{T}}, CancellationToken)"/> start, which end with their work):
        /// work for that same namespace nested inside runs here instead of entering it again, so one
        /// call that reads several things in a namespace enters it once.
        /// </summary>
        [ThreadStatic]
        private static ulong? _joined;

        /// <summary>True when this thread has already joined the target's namespace (its inode, or the inode its path names now).</summary>
        private static bool AlreadyIn(NamespaceTarget target)
        {
            if (_joined is not ulong joined)
            {
                return false;
            }

            if (target.Inode is ulong inode)
            {
                return inode == joined;
            }

            foreach (string path in target.Paths())
            {
                return InodeOf(path) == joined;
            }

            return false;
        }

        /// <summary>Runs <paramref name="body"/> on a new thread that has joined the target namespace; rethrows its exception.</summary>
        internal static T Run<T>(NamespaceTarget target, Func<T> body) => Run(target, body, CancellationToken.None);

        /// <summary>
        /// Runs <paramref name="body"/> on a new thread that has joined the target namespace; rethrows
        /// its exception. A cancellation throws <see cref="OperationCanceledException"/> at once: the
        /// thread may be blocked in a kernel call (a netlink receive waits up to its timeout) that no
        /// token reaches, so it is left to finish on its own (a background thread; its result dropped).
        /// </summary>
        internal static T Run<T>(NamespaceTarget target, Func<T> body, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (AlreadyIn(target))
            {
                return body();
            }

            T result = default!;
            Exception? failure = null;
            var done = new ManualResetEventSlim(false);
            var thread = new Thread(() =>
            {
                try
                {
                    Join(target);
                    result = body();
                }
                catch (Exception e)
                {
                    failure = e;
                }
                finally
                {
                    done.Set();
                }
            });
            thread.IsBackground = true;
            thread.Start();
            try
            {
                done.Wait(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                // Not disposed: the abandoned thread still sets it when it ends.
                throw;
            }

            thread.Join();
            done.Dispose();
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
        internal static IEnumerable<T> Stream<T>(string spec, Func<CancellationToken, IEnumerable<T>> producer, CancellationToken cancellationToken) =>
            Stream(NamespaceTarget.Of(spec), producer, cancellationToken);

        /// <summary>Streams what <paramref name="producer"/> yields on a thread inside the target namespace.</summary>
        internal static IEnumerable<T> Stream<T>(NamespaceTarget target, Func<CancellationToken, IEnumerable<T>> producer, CancellationToken cancellationToken) =>
            AlreadyIn(target) ? producer(cancellationToken) : StreamFromThread(target, producer, cancellationToken);

        private static IEnumerable<T> StreamFromThread<T>(NamespaceTarget target, Func<CancellationToken, IEnumerable<T>> producer, CancellationToken cancellationToken)
        {
            // Not disposed here: after a cancellation the thread may still be in a kernel call and use them when it returns.
            var queue = new BlockingCollection<T>(boundedCapacity: 1024);
            var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            Exception? failure = null;
            var thread = new Thread(() =>
            {
                try
                {
                    Join(target);
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
                if (!cancellationToken.IsCancellationRequested)
                {
                    // The consumer stopped early or the producer ended: it ends promptly now.
                    thread.Join();
                }
            }

            if (failure != null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
            }
        }

        /// <summary>
        /// Joins the first of the target's paths that opens and, when the target names an inode, is
        /// that namespace: the inode is read from the opened descriptor, so a PID reused by a
        /// process in another namespace between listing and joining is never entered.
        /// </summary>
        private static void Join(NamespaceTarget target)
        {
            CloseWaitException? firstFailure = null;
            foreach (string path in target.Paths())
            {
                int fd;
                try
                {
                    fd = OpenNetworkNamespace(path, target.Spec ?? path);
                }
                catch (CloseWaitException e) when (e.ErrorId == ErrorIds.NetworkNamespaceNotFound)
                {
                    firstFailure ??= e;
                    continue;
                }

                try
                {
                    if (target.Inode is ulong wanted && InodeOfDescriptor(fd) != wanted)
                    {
                        continue;
                    }

                    if (Interop.Libc.setns(fd, Interop.Libc.CLONE_NEWNET) != 0)
                    {
                        int errno = LinuxErrno.Last();
                        throw errno == Interop.Libc.EPERM
                            ? new CloseWaitException(ErrorIds.NetworkNamespaceAccessDenied, ErrorCategory.PermissionDenied,
                                $"Cannot enter the network namespace {path}: {LinuxErrno.Describe(errno)}. Entering another namespace needs root (CAP_SYS_ADMIN). " + LinuxErrno.PermissionAdvice("CAP_SYS_ADMIN"), target.Spec) { NativeError = errno }
                            : new CloseWaitException(ErrorIds.InvalidNetworkNamespace, ErrorCategory.InvalidArgument,
                                $"{path} is not a network namespace: {LinuxErrno.Describe(errno)}. {WhatToGive}", target.Spec) { NativeError = errno };
                    }

                    _joined = target.Inode ?? InodeOfDescriptor(fd);
                    return;
                }
                finally
                {
                    Interop.Libc.close(fd);
                }
            }

            if (target.Inode is ulong inode)
            {
                throw new CloseWaitException(ErrorIds.NetworkNamespaceGone, ErrorCategory.ObjectNotFound,
                    $"The network namespace {inode} ({target.Spec ?? "listed earlier"}) no longer exists: every process in it has exited. List the connections again.", target.Spec);
            }

            throw firstFailure ?? new CloseWaitException(ErrorIds.NetworkNamespaceNotFound, ErrorCategory.ObjectNotFound,
                $"The network namespace '{target.Spec}' was not found.", target.Spec);
        }

        /// <summary>
        /// The inode of the network namespace a path names (/proc/&lt;pid&gt;/ns/net, /run/netns/name);
        /// null when it cannot be opened or is not a namespace file (a /run/netns file whose bind
        /// mount is gone is an empty file on tmpfs: its inode names no namespace).
        /// </summary>
        internal static unsafe ulong? InodeOf(string path)
        {
            // /proc/<pid>/ns/net is a magic link whose text is "net:[inode]"; a bind mount (/run/netns) is not a link.
            if (ParseNamespaceLink(ReadLink(path)) is ulong fromLink)
            {
                return fromLink;
            }

            int fd = Interop.Libc.open(path, Interop.Libc.O_PATH | Interop.Libc.O_CLOEXEC);
            if (fd < 0)
            {
                return null;
            }

            try
            {
                var abi = Interop.LinuxAbi.Current;
                if (abi == null)
                {
                    return null;
                }

                var statfs = new byte[abi.StatfsSize];
                fixed (byte* buf = statfs)
                {
                    if (Interop.Libc.fstatfs(fd, buf) != 0 || abi.StatfsType(statfs) != Interop.Libc.NSFS_MAGIC)
                    {
                        return null;
                    }
                }

                return InodeOfDescriptor(fd);
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
                        $"Cannot open the network namespace {path}: {LinuxErrno.Describe(errno)}. Entering another namespace needs root (CAP_SYS_ADMIN). " + LinuxErrno.PermissionAdvice("CAP_SYS_ADMIN"), spec) { NativeError = errno }
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

        /// <summary>The namespace of the calling thread.</summary>
        internal static ulong? OwnInode() => ParseNamespaceLink(ReadLink("/proc/thread-self/ns/net"));

        /// <summary>
        /// The inode of an open namespace file, by statx: readlink of the descriptor would give the
        /// mount's path for a /run/netns bind mount, not "net:[inode]".
        /// </summary>
        private static unsafe ulong? InodeOfDescriptor(int fd)
        {
            byte* buf = stackalloc byte[Interop.Libc.StatxSize];
            byte empty = 0;
            try
            {
                if (Interop.Libc.statx(fd, &empty, Interop.Libc.AT_EMPTY_PATH, Interop.Libc.STATX_INO, buf) == 0
                    && (*(uint*)buf & Interop.Libc.STATX_INO) != 0)
                {
                    return *(ulong*)(buf + Interop.Libc.StatxInoOffset);
                }
            }
            catch (EntryPointNotFoundException)
            {
                // glibc before 2.28 has no statx: fall through to the descriptor's link.
            }

            return InodeOfDescriptorLink(fd);
        }

        /// <summary>
        /// Without statx (glibc before 2.28, Linux before 4.11): /proc/self/fd/N of a namespace
        /// file opened through /proc/&lt;pid&gt;/ns/net reads "net:[inode]".
        /// </summary>
        internal static ulong? InodeOfDescriptorLink(int fd) =>
            ParseNamespaceLink(ReadLink("/proc/self/fd/" + fd.ToString(CultureInfo.InvariantCulture)));

        /// <summary>"net:[4026531833]" → 4026531833; null for anything else.</summary>
        internal static ulong? ParseNamespaceLink(string? link)
        {
            const string Prefix = "net:[";
            if (link == null || !link.StartsWith(Prefix, StringComparison.Ordinal) || !link.EndsWith("]", StringComparison.Ordinal))
            {
                return null;
            }

            return ulong.TryParse(link.Substring(Prefix.Length, link.Length - Prefix.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out ulong inode)
                ? inode
                : (ulong?)null;
        }

        /// <summary>readlink(2) without following; null when it fails.</summary>
        internal static unsafe string? ReadLink(string path)
        {
            byte[] name = System.Text.Encoding.UTF8.GetBytes(path + "\0");
            byte* buf = stackalloc byte[256];
            fixed (byte* p = name)
            {
                long n = (long)Interop.Libc.readlinkat(Interop.Libc.AT_FDCWD, p, buf, (IntPtr)256);
                return n <= 0 || n >= 256 ? null : System.Text.Encoding.UTF8.GetString(buf, (int)n);
            }
        }
    }
}
