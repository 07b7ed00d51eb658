using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace CloseWait.Platform.Linux
{
    /// <summary>
    /// Finds socket owners by walking /proc/&lt;pid&gt;/fd once. Each descriptor costs one
    /// readlinkat() into a reused buffer; the inode is parsed from the bytes and looked up before
    /// anything is allocated, so the walk allocates only for the sockets asked about. PIDs are
    /// split across cores.
    /// </summary>
    internal sealed unsafe class LinuxOwnerResolver : IOwnerResolver
    {
        internal const string ProcRoot = "/proc";
        private const int DirBufferSize = 32 * 1024;
        private static readonly byte[] SocketPrefix = Encoding.ASCII.GetBytes("socket:[");

        public int Resolve(IReadOnlyList<TcpConnection> connections, CancellationToken cancellationToken)
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

            int[] pids = ListPids();
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
                    if (!ScanProcess(pid, byInode, w.DirBuf, w.LinkBuf, w.PathBuf, w.Found))
                    {
                        w.Denied++;
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

                    denied += w.Denied;
                }
            });
            cancellationToken.ThrowIfCancellationRequested();

            found.Sort((a, b) => a.Pid != b.Pid ? a.Pid.CompareTo(b.Pid) : a.Fd.CompareTo(b.Fd));
            var owners = new Dictionary<ulong, List<TcpSocketOwner>>();
            foreach (var (inode, pid, fd) in found)
            {
                if (!owners.TryGetValue(inode, out var list))
                {
                    owners[inode] = list = new List<TcpSocketOwner>(1);
                }

                names.TryGetValue(pid, out string? name);
                list.Add(new TcpSocketOwner(pid, name, fd));
            }

            foreach (var kv in owners)
            {
                var c = byInode[kv.Key];
                c.Owners = kv.Value.ToArray();
                c.ProcessId = kv.Value[0].ProcessId;
                c.ProcessName = kv.Value[0].ProcessName;
            }

            return denied;
        }

        private sealed class Worker
        {
            public readonly List<(ulong, int, int)> Found = new List<(ulong, int, int)>();
            public readonly Dictionary<int, string?> Names = new Dictionary<int, string?>();
            public readonly byte[] DirBuf = new byte[DirBufferSize];
            public readonly byte[] LinkBuf = new byte[64];
            public readonly byte[] PathBuf = new byte[32];
            public int Denied;
        }

        internal static int[] ListPids()
        {
            var pids = new List<int>(512);
            foreach (string dir in Directory.EnumerateDirectories(ProcRoot))
            {
                string name = Path.GetFileName(dir);
                if (name.Length > 0 && name[0] >= '1' && name[0] <= '9' && int.TryParse(name, out int pid))
                {
                    pids.Add(pid);
                }
            }

            pids.Sort();
            return pids.ToArray();
        }

        /// <summary>Scans one process's descriptors; false when the process could not be inspected (permission).</summary>
        private static bool ScanProcess(int pid, Dictionary<ulong, TcpConnection> wanted, byte[] dirBuf, byte[] linkBuf, byte[] pathBuf, List<(ulong, int, int)> found)
        {
            int pathLen = WritePath(pathBuf, pid);
            int dirFd;
            fixed (byte* path = pathBuf)
            {
                dirFd = Interop.Libc.openat(-100 /* AT_FDCWD */, path, Interop.Libc.O_RDONLY | Interop.Libc.O_DIRECTORY | Interop.Libc.O_CLOEXEC);
            }

            if (dirFd < 0)
            {
                int errno = LinuxErrno.Last();
                // Gone since listing (ENOENT/ESRCH) is not a permission problem.
                return !(errno == Interop.Libc.EACCES || errno == Interop.Libc.EPERM);
            }

            try
            {
                fixed (byte* dir = dirBuf)
                fixed (byte* link = linkBuf)
                {
                    while (true)
                    {
                        long n = (long)Interop.Libc.getdents64(dirFd, dir, (IntPtr)dirBuf.Length);
                        if (n <= 0)
                        {
                            return n == 0 || !IsPermission(LinuxErrno.Last());
                        }

                        long pos = 0;
                        while (pos < n)
                        {
                            byte* entry = dir + pos;
                            ushort reclen = *(ushort*)(entry + 16);
                            if (reclen == 0)
                            {
                                break;
                            }

                            byte* name = entry + 19;
                            if (name[0] >= '0' && name[0] <= '9')
                            {
                                long len = (long)Interop.Libc.readlinkat(dirFd, name, link, (IntPtr)linkBuf.Length);
                                if (len > SocketPrefix.Length && TryParseSocketInode(linkBuf, (int)len, out ulong inode) && wanted.ContainsKey(inode))
                                {
                                    found.Add((inode, pid, ParseInt(name)));
                                }
                            }

                            pos += reclen;
                        }
                    }
                }
            }
            finally
            {
                Interop.Libc.close(dirFd);
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

        private static int WritePath(byte[] buf, int pid)
        {
            // "/proc/<pid>/fd\0"
            int i = 0;
            foreach (char ch in "/proc/")
            {
                buf[i++] = (byte)ch;
            }

            string digits = pid.ToString(System.Globalization.CultureInfo.InvariantCulture);
            foreach (char ch in digits)
            {
                buf[i++] = (byte)ch;
            }

            foreach (char ch in "/fd")
            {
                buf[i++] = (byte)ch;
            }

            buf[i] = 0;
            return i;
        }

        internal static string? ReadComm(int pid)
        {
            try
            {
                string comm = File.ReadAllText("/proc/" + pid.ToString(System.Globalization.CultureInfo.InvariantCulture) + "/comm");
                return comm.TrimEnd('\n');
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                return null;
            }
        }
    }
}
