using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace CloseWait.Platform.Linux
{
    /// <summary>
    /// Finds socket owners by walking /proc/&lt;pid&gt;/fd once. Each descriptor costs one
    /// readlinkat() into a reused buffer, by number when the kernel tells how many are open (no
    /// directory listing); the inode is parsed from the bytes and looked up before anything is
    /// allocated, so the walk allocates only for the sockets asked about. PIDs are split across cores.
    /// </summary>
    internal sealed unsafe class LinuxOwnerResolver : IOwnerResolver, IOwnerResolverInProcesses, IOwnerSearchSource
    {
        internal const string ProcRoot = "/proc";
        internal const int DirBufferSize = 8 * 1024;

        // struct linux_dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), then d_name.
        private const int DirentRecLenOffset = 16;
        private const int DirentNameOffset = 19;
        private static readonly byte[] SocketPrefix = Encoding.ASCII.GetBytes("socket:[");

        // Misses allowed beyond the open count before a table counts as sparse (fd 255 of a shell).
        private const int MaxProbeMisses = 64;
        private static volatile bool _statxWorks = true;

        public int Resolve(IReadOnlyList<TcpConnection> connections, CancellationToken cancellationToken) =>
            Resolve(connections, null, cancellationToken);

        public int ResolveAmong(IReadOnlyList<TcpConnection> connections, IEnumerable<int> processIds, CancellationToken cancellationToken)
        {
            var pids = new SortedSet<int>(processIds);
            pids.RemoveWhere(pid => pid <= 0);
            return Resolve(connections, pids.ToArray(), cancellationToken);
        }

        /// <summary>A search kept across samples: see <see cref="LinuxOwnerSearch"/>.</summary>
        public IOwnerSearch StartSearch() => new LinuxOwnerSearch(this);

        /// <summary>Walks <paramref name="pids"/> (sorted), or every process when null.</summary>
        private int Resolve(IReadOnlyList<TcpConnection> connections, int[]? pids, CancellationToken cancellationToken)
        {
            var byInode = new Dictionary<ulong, TcpConnection>(connections.Count);
            foreach (var c in connections)
            {
                if (c.Inode is ulong inode)
                {
                    byInode[inode] = c;
                }
            }

            if (byInode.Count == 0)
            {
                return 0;
            }

            var walk = FindOwners(byInode.ContainsKey, cancellationToken, pids);
            ApplyOwners(byInode, walk.Found, pid => walk.Names.TryGetValue(pid, out string? name) ? name : null);
            return walk.Denied;
        }

        /// <summary>Sets the owners of each connection from descriptors found, ordered by PID then descriptor.</summary>
        internal static void ApplyOwners(IReadOnlyList<TcpConnection> connections, IReadOnlyList<(ulong Inode, int Pid, int Fd)> found, Func<int, string?> nameOf)
        {
            var byInode = new Dictionary<ulong, TcpConnection>();
            foreach (var c in connections)
            {
                if (c.Inode is ulong inode)
                {
                    byInode[inode] = c;
                }
            }

            ApplyOwners(byInode, found, nameOf);
        }

        private static void ApplyOwners(Dictionary<ulong, TcpConnection> byInode, IReadOnlyList<(ulong Inode, int Pid, int Fd)> found, Func<int, string?> nameOf)
        {
            var owners = new Dictionary<ulong, List<(int Pid, int Fd)>>();
            foreach (var (inode, pid, fd) in found)
            {
                if (!byInode.ContainsKey(inode))
                {
                    continue;
                }

                if (!owners.TryGetValue(inode, out var list))
                {
                    owners[inode] = list = new List<(int Pid, int Fd)>(1);
                }

                list.Add((pid, fd));
            }

            foreach (var kv in owners)
            {
                var list = kv.Value;
                if (list.Count > 1)
                {
                    list.Sort();
                }

                var result = new TcpSocketOwner[list.Count];
                for (int i = 0; i < list.Count; i++)
                {
                    result[i] = TcpSocketOwner.Listed(list[i].Pid, nameOf(list[i].Pid), list[i].Fd);
                }

                var c = byInode[kv.Key];
                c.Owners = result;
                c.ProcessId = result[0].ProcessId;
                c.Program = result[0].Program;
            }
        }

        /// <summary>What one walk of /proc found: every descriptor of a wanted socket, and the names of the processes that hold one.</summary>
        internal sealed class OwnerWalk
        {
            internal OwnerWalk(List<(ulong Inode, int Pid, int Fd)> found, Dictionary<int, string?> names, int denied)
            {
                Found = found;
                Names = names;
                Denied = denied;
            }

            /// <summary>Sorted by PID, then descriptor.</summary>
            public List<(ulong Inode, int Pid, int Fd)> Found { get; }

            public Dictionary<int, string?> Names { get; }

            /// <summary>Processes that could not be inspected (permission).</summary>
            public int Denied { get; }
        }

        /// <summary>
        /// Walks every process's descriptors once and reports those that refer to a socket for which
        /// <paramref name="wanted"/> is true. <paramref name="wanted"/> is called from several
        /// threads at once and must only read.
        /// </summary>
        /// <param name="tables">When given, receives each process's open count and /proc/&lt;pid&gt;/fd inode as read before its scan.</param>
        /// <param name="sort">False leaves <see cref="OwnerWalk.Found"/> in the order the workers found them.</param>
        internal OwnerWalk FindOwners(Func<ulong, bool> wanted, CancellationToken cancellationToken, int[]? processIds = null,
            Dictionary<int, (long Count, ulong Ino)>? tables = null, bool sort = true)
        {
            int[] pids = processIds ?? ListPids();
            var found = new List<(ulong Inode, int Pid, int Fd)>();
            var names = new Dictionary<int, string?>();
            int denied = 0;
            object gate = new object();
            var options = new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = Environment.ProcessorCount };

            // Contiguous chunks of PIDs; each worker thread keeps one set of buffers and results
            // for all the chunks it takes, and merges once at the end.
            int chunks = Math.Max(1, Math.Min(pids.Length, Environment.ProcessorCount * 4));
            Parallel.For(0, chunks, options, () => new Worker(), (chunk, _, w) =>
            {
                int start = (int)((long)pids.Length * chunk / chunks);
                int end = (int)((long)pids.Length * (chunk + 1) / chunks);
                for (int i = start; i < end && !cancellationToken.IsCancellationRequested; i++)
                {
                    int pid = pids[i];
                    int before = w.Found.Count;
                    if (!ScanProcess(pid, wanted, w))
                    {
                        w.Denied++;
                    }
                    else if (tables != null && w.TableCount > 0)
                    {
                        w.Tables[pid] = (w.TableCount, w.TableIno);
                    }

                    if (w.Found.Count > before)
                    {
                        w.Names[pid] = ReadComm(pid);
                    }
                }

                return w;
            },
            w =>
            {
                lock (gate)
                {
                    found.AddRange(w.Found);
                    foreach (var kv in w.Names)
                    {
                        names[kv.Key] = kv.Value;
                    }

                    if (tables != null)
                    {
                        foreach (var kv in w.Tables)
                        {
                            tables[kv.Key] = kv.Value;
                        }
                    }

                    denied += w.Denied;
                }
            });
            cancellationToken.ThrowIfCancellationRequested();

            if (sort)
            {
                found.Sort((a, b) => a.Pid != b.Pid ? a.Pid.CompareTo(b.Pid) : a.Fd.CompareTo(b.Fd));
            }

            return new OwnerWalk(found, names, denied);
        }

        internal sealed class Worker
        {
            public readonly List<(ulong, int, int)> Found = new List<(ulong, int, int)>();
            public readonly Dictionary<int, string?> Names = new Dictionary<int, string?>();
            public readonly Dictionary<int, (long, ulong)> Tables = new Dictionary<int, (long, ulong)>();
            public readonly byte[] DirBuf = new byte[DirBufferSize];
            public readonly byte[] LinkBuf = new byte[64];
            public readonly byte[] PathBuf = new byte[64];
            public readonly byte[] NameBuf = new byte[16];
            public readonly byte[] StatxBuf = new byte[Interop.Libc.StatxSize];
            public int Denied;

            /// <summary>The open count and /proc/&lt;pid&gt;/fd inode of the last process opened (count -1: unknown).</summary>
            public long TableCount;
            public ulong TableIno;
        }

        /// <summary>The PIDs in /proc, sorted; read with getdents64 so that no name is allocated.</summary>
        internal static int[] ListPids()
        {
            var pids = new List<int>(512);
            byte* path = stackalloc byte[8];
            int i = 0;
            foreach (char ch in ProcRoot)
            {
                path[i++] = (byte)ch;
            }

            path[i] = 0;
            int dirFd = Interop.Libc.openat(Interop.Libc.AT_FDCWD, path, Interop.Libc.O_RDONLY | Interop.Libc.O_DIRECTORY | Interop.Libc.O_CLOEXEC);
            if (dirFd < 0)
            {
                throw new IOException($"{ProcRoot}: {LinuxErrno.Describe(LinuxErrno.Last())}");
            }

            try
            {
                const int ListBufferSize = 4096;
                byte* dir = stackalloc byte[ListBufferSize];
                while (true)
                {
                    long n = (long)Interop.Libc.GetDents64(dirFd, dir, (IntPtr)ListBufferSize);
                    if (n < 0)
                    {
                        throw new IOException($"{ProcRoot}: {LinuxErrno.Describe(LinuxErrno.Last())}");
                    }

                    if (n == 0)
                    {
                        break;
                    }

                    for (long pos = 0; pos < n;)
                    {
                        byte* entry = dir + pos;
                        ushort reclen = *(ushort*)(entry + DirentRecLenOffset);
                        if (reclen == 0)
                        {
                            break;
                        }

                        byte* name = entry + DirentNameOffset;
                        if (name[0] >= '1' && name[0] <= '9')
                        {
                            pids.Add(ParseInt(name));
                        }

                        pos += reclen;
                    }
                }
            }
            finally
            {
                Interop.Libc.close(dirFd);
            }

            pids.Sort();
            return pids.ToArray();
        }

        /// <summary>Scans one process's descriptors; false when the process could not be inspected (permission).</summary>
        private static bool ScanProcess(int pid, Func<ulong, bool> wanted, Worker w)
        {
            w.TableCount = -1;
            int dirFd = OpenDescriptorTable(pid, w);
            if (dirFd < 0)
            {
                // Gone since listing (ENOENT/ESRCH) is not a permission problem.
                return !IsPermission(LinuxErrno.Last()) || !StillExists(pid);
            }

            try
            {
                return ScanOpenTable(dirFd, pid, w.TableCount, wanted, w);
            }
            finally
            {
                Interop.Libc.close(dirFd);
            }
        }

        /// <summary>
        /// Opens /proc/&lt;pid&gt;/fd and reads its open count and inode into <see cref="Worker.TableCount"/>
        /// and <see cref="Worker.TableIno"/> (one statx); -1 with errno set when it cannot be opened.
        /// </summary>
        internal static int OpenDescriptorTable(int pid, Worker w)
        {
            int dirFd;
            fixed (byte* path = w.PathBuf)
            {
                WriteProcPath(path, pid, "fd");
                dirFd = Interop.Libc.openat(Interop.Libc.AT_FDCWD, path, Interop.Libc.O_RDONLY | Interop.Libc.O_DIRECTORY | Interop.Libc.O_CLOEXEC);
            }

            if (dirFd >= 0)
            {
                w.TableCount = OpenDescriptorCount(dirFd, w.StatxBuf);
                fixed (byte* buf = w.StatxBuf)
                {
                    w.TableIno = w.TableCount > 0 ? *(ulong*)(buf + Interop.Libc.StatxInoOffset) : 0;
                }
            }

            return dirFd;
        }

        /// <summary>Scans an open /proc/&lt;pid&gt;/fd; false when the process could not be inspected (permission).</summary>
        internal static bool ScanOpenTable(int dirFd, int pid, long count, Func<ulong, bool> wanted, Worker w)
        {
            int next = 0;
            if (count > 0 && ReadByNumber(dirFd, pid, count, wanted, w, out next) == ProbeResult.Denied)
            {
                return !StillExists(pid);
            }

            // The count is a hint, never a stop: it was read before the scan, and a descriptor
            // opened meanwhile takes a low number, so reaching it proves nothing about the
            // numbers above. The listing covers the rest of the table, from where the probe stopped.
            return ReadDirectory(dirFd, pid, next, wanted, w) || !StillExists(pid);
        }

        /// <summary>
        /// The socket inode behind descriptor <paramref name="fd"/> of <paramref name="pid"/> (one
        /// readlink), or 0 when it is gone or no socket.
        /// </summary>
        internal static ulong ReadSocketInode(int pid, int fd, Worker w)
        {
            fixed (byte* path = w.PathBuf)
            fixed (byte* link = w.LinkBuf)
            {
                WriteProcPath(path, pid, "fd/");
                int i = 0;
                while (path[i] != 0)
                {
                    i++;
                }

                WriteDecimal(path + i, fd);
                long len = (long)Interop.Libc.readlinkat(Interop.Libc.AT_FDCWD, path, link, (IntPtr)w.LinkBuf.Length);
                return len > SocketPrefix.Length && TryParseSocketInode(w.LinkBuf, (int)len, out ulong inode) ? inode : 0;
            }
        }

        /// <summary>
        /// A process that exits during the walk answers EACCES on its descriptors (the kernel's
        /// access check finds no task): that is not a process that could not be inspected.
        /// </summary>
        private static bool StillExists(int pid) =>
            Interop.Libc.kill(pid, 0) == 0 || LinuxErrno.Last() != Interop.Libc.ESRCH;

        private enum ProbeResult
        {
            /// <summary>As many descriptors seen as the count said (which proves nothing about higher numbers).</summary>
            CountReached,
            Denied,
            Sparse,
        }

        /// <summary>
        /// Since Linux 6.2 the size of /proc/&lt;pid&gt;/fd is the number of open descriptors; 0
        /// (older kernels) or -1 (no statx) sends the caller to the directory listing.
        /// </summary>
        internal static long OpenDescriptorCount(int dirFd, byte[] statxBuf)
        {
            if (!_statxWorks)
            {
                return -1;
            }

            try
            {
                fixed (byte* buf = statxBuf)
                {
                    byte empty = 0;
                    if (Interop.Libc.statx(dirFd, &empty, Interop.Libc.AT_EMPTY_PATH, Interop.Libc.STATX_SIZE | Interop.Libc.STATX_INO, buf) != 0
                        || (*(uint*)buf & Interop.Libc.STATX_SIZE) == 0)
                    {
                        return -1;
                    }

                    return *(long*)(buf + Interop.Libc.StatxSizeOffset);
                }
            }
            catch (EntryPointNotFoundException)
            {
                _statxWorks = false;
                return -1;
            }
        }

        /// <summary>
        /// Reads descriptors 0, 1, 2, ... by number until <paramref name="count"/> are seen: one
        /// readlinkat per descriptor, without listing the directory (a listing makes the kernel
        /// look up every entry once more). Stops there, or early on a sparse table (too many
        /// misses); the caller lists the rest, from <paramref name="next"/>.
        /// </summary>
        private static ProbeResult ReadByNumber(int dirFd, int pid, long count, Func<ulong, bool> wanted, Worker w, out int next)
        {
            long seen = 0;
            long misses = 0;
            fixed (byte* name = w.NameBuf)
            fixed (byte* link = w.LinkBuf)
            {
                for (int fd = 0; ; fd++)
                {
                    if (seen >= count || misses > count + MaxProbeMisses)
                    {
                        next = fd;
                        return seen >= count ? ProbeResult.CountReached : ProbeResult.Sparse;
                    }

                    WriteDecimal(name, fd);
                    long len = (long)Interop.Libc.readlinkat(dirFd, name, link, (IntPtr)w.LinkBuf.Length);
                    if (len < 0)
                    {
                        if (IsPermission(LinuxErrno.Last()))
                        {
                            next = fd;
                            return ProbeResult.Denied;
                        }

                        misses++;
                        continue;
                    }

                    seen++;
                    if (len > SocketPrefix.Length && TryParseSocketInode(w.LinkBuf, (int)len, out ulong inode) && wanted(inode))
                    {
                        w.Found.Add((inode, pid, fd));
                    }
                }
            }
        }

        /// <summary>
        /// Lists the directory (getdents64) from descriptor <paramref name="from"/> on and reads each:
        /// the position of a /proc/&lt;pid&gt;/fd directory is the descriptor number plus 2 (after
        /// "." and ".."), so the kernel starts the listing there.
        /// </summary>
        private static bool ReadDirectory(int dirFd, int pid, int from, Func<ulong, bool> wanted, Worker w)
        {
            if (from > 0)
            {
                // If the seek fails the listing starts at 0, and the numbers below from are skipped.
                Interop.Libc.lseek64(dirFd, from + 2L, Interop.Libc.SEEK_SET);
            }

            fixed (byte* dir = w.DirBuf)
            fixed (byte* link = w.LinkBuf)
            {
                while (true)
                {
                    long n = (long)Interop.Libc.GetDents64(dirFd, dir, (IntPtr)w.DirBuf.Length);
                    if (n <= 0)
                    {
                        return n == 0 || !IsPermission(LinuxErrno.Last());
                    }

                    long pos = 0;
                    while (pos < n)
                    {
                        byte* entry = dir + pos;
                        ushort reclen = *(ushort*)(entry + DirentRecLenOffset);
                        if (reclen == 0)
                        {
                            break;
                        }

                        byte* name = entry + DirentNameOffset;
                        if (name[0] >= '0' && name[0] <= '9')
                        {
                            int fd = ParseInt(name);
                            if (fd >= from)
                            {
                                long len = (long)Interop.Libc.readlinkat(dirFd, name, link, (IntPtr)w.LinkBuf.Length);
                                if (len > SocketPrefix.Length && TryParseSocketInode(w.LinkBuf, (int)len, out ulong inode) && wanted(inode))
                                {
                                    w.Found.Add((inode, pid, fd));
                                }
                            }
                        }

                        pos += reclen;
                    }
                }
            }
        }

        /// <summary>
        /// Counts the descriptor entries of an open /proc/&lt;pid&gt;/fd directory with getdents64
        /// (no name allocated): the count for kernels before 6.2. -1 with errno set on failure.
        /// </summary>
        internal static long CountDirectoryDescriptors(int dirFd, byte[] dirBuf)
        {
            long count = 0;
            fixed (byte* dir = dirBuf)
            {
                while (true)
                {
                    long n = (long)Interop.Libc.GetDents64(dirFd, dir, (IntPtr)dirBuf.Length);
                    if (n < 0)
                    {
                        return -1;
                    }

                    if (n == 0)
                    {
                        return count;
                    }

                    for (long pos = 0; pos < n;)
                    {
                        byte* entry = dir + pos;
                        ushort reclen = *(ushort*)(entry + DirentRecLenOffset);
                        if (reclen == 0)
                        {
                            break;
                        }

                        byte first = entry[DirentNameOffset];
                        if (first >= '0' && first <= '9')
                        {
                            count++;
                        }

                        pos += reclen;
                    }
                }
            }
        }

        private static bool IsPermission(int errno) => errno == Interop.Libc.EACCES || errno == Interop.Libc.EPERM;

        /// <summary>Parses "socket:[12345]" without allocating.</summary>
        internal static bool TryParseSocketInode(byte[] link, int length, out ulong inode)
        {
            inode = 0;
            if (length < SocketPrefix.Length + 2 || length > link.Length || link[length - 1] != (byte)']')
            {
                return false;
            }

            for (int i = 0; i < SocketPrefix.Length; i++)
            {
                if (link[i] != SocketPrefix[i])
                {
                    return false;
                }
            }

            for (int i = SocketPrefix.Length; i < length - 1; i++)
            {
                int d = link[i] - '0';
                if (d < 0 || d > 9)
                {
                    return false;
                }

                inode = (inode * 10) + (ulong)d;
            }

            return true;
        }

        private static int ParseInt(byte* s)
        {
            int v = 0;
            for (; *s >= '0' && *s <= '9'; s++)
            {
                v = (v * 10) + (*s - '0');
            }

            return v;
        }

        /// <summary>Writes "/proc/&lt;pid&gt;/&lt;leaf&gt;" and a NUL; the buffer holds 64 bytes.</summary>
        private static void WriteProcPath(byte* buf, int pid, string leaf)
        {
            int i = 0;
            foreach (char ch in "/proc/")
            {
                buf[i++] = (byte)ch;
            }

            i += WriteDecimal(buf + i, pid);
            buf[i++] = (byte)'/';
            foreach (char ch in leaf)
            {
                buf[i++] = (byte)ch;
            }

            buf[i] = 0;
        }

        /// <summary>Writes a non-negative number and a NUL; returns the number of digits.</summary>
        private static int WriteDecimal(byte* buf, int value)
        {
            int digits = 1;
            for (int v = value; v >= 10; v /= 10)
            {
                digits++;
            }

            buf[digits] = 0;
            for (int i = digits - 1; i >= 0; i--)
            {
                buf[i] = (byte)('0' + (value % 10));
                value /= 10;
            }

            return digits;
        }

        /// <summary>The process's name (comm, at most 15 bytes); only the name itself is allocated.</summary>
        internal static string? ReadComm(int pid)
        {
            byte* path = stackalloc byte[64];
            byte* comm = stackalloc byte[64];
            WriteProcPath(path, pid, "comm");
            int fd = Interop.Libc.openat(Interop.Libc.AT_FDCWD, path, Interop.Libc.O_RDONLY | Interop.Libc.O_CLOEXEC);
            if (fd < 0)
            {
                return null;
            }

            try
            {
                long n = (long)Interop.Libc.read(fd, comm, (IntPtr)64);
                if (n <= 0)
                {
                    return null;
                }

                if (comm[n - 1] == (byte)'\n')
                {
                    n--;
                }

                return Encoding.UTF8.GetString(comm, (int)n);
            }
            finally
            {
                Interop.Libc.close(fd);
            }
        }
    }
}
