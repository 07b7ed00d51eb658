using System.Collections.Generic;
using System.Threading;

namespace CloseWait.Platform.Linux
{
    /// <summary>
    /// Finds the owners of exactly the sockets asked about, sample after sample, without reading
    /// every descriptor of the machine each time (Linux has no index from socket to process, so
    /// this keeps one). A walk of every process (<see cref="ResolveAll"/>) records every socket
    /// descriptor it reads (socket inode → PID and descriptor) and each process's table as it was
    /// (open count and /proc/&lt;pid&gt;/fd inode, one statx). Then a targeted search:
    /// <list type="number">
    /// <item>a socket seen before (an established connection that has just entered CLOSE_WAIT) is
    /// confirmed where it was last seen with one readlink;</item>
    /// <item>the others were opened or passed since: only processes whose table changed (another
    /// open count or inode: a descriptor opened, closed or received, or a new process behind the PID)
    /// are read, the likely ones (holders of the watched sockets) first, stopping when every socket
    /// is found.</item>
    /// </list>
    /// What it misses (a descriptor closed and another opened between two reads, so the count is
    /// the same; every owner of a socket shared after fork beyond the first found) is left to the
    /// caller's next walk of every process. Kernels before 6.2 give no open count: every process
    /// counts as changed, which is a walk of every process again.
    /// </summary>
    internal sealed class LinuxOwnerSearch : IOwnerSearch
    {
        private readonly LinuxOwnerResolver _resolver;
        private readonly LinuxOwnerResolver.Worker _worker = new LinuxOwnerResolver.Worker();

        // Socket inode → the descriptor that held it at the last read of its process.
        private Dictionary<ulong, (int Pid, int Fd)> _index = new Dictionary<ulong, (int Pid, int Fd)>();

        // PID → its table at the last read, and the socket inodes read there (to drop from the index on a re-read).
        private Dictionary<int, Table> _tables = new Dictionary<int, Table>();

        internal LinuxOwnerSearch(LinuxOwnerResolver resolver)
        {
            _resolver = resolver;
        }

        public bool Primed { get; private set; }

        /// <summary>Processes whose descriptors the last targeted search read (tests, bench).</summary>
        internal int ProcessesRead { get; private set; }

        /// <summary>Sockets the last targeted search confirmed where they were last seen.</summary>
        internal int IndexHits { get; private set; }

        /// <summary>Sockets in the index (every socket descriptor read so far, by inode).</summary>
        internal int IndexedSockets => _index.Count;

        public int ResolveAll(IReadOnlyList<TcpConnection> connections, CancellationToken cancellationToken)
        {
            var tables = new Dictionary<int, (long Count, ulong Ino)>();
            var walk = _resolver.FindOwners(_ => true, cancellationToken, null, tables, sort: false);
            var index = new Dictionary<ulong, (int Pid, int Fd)>(walk.Found.Count);
            var inodes = new Dictionary<int, List<ulong>>();
            foreach (var (inode, pid, fd) in walk.Found)
            {
                // Shared after fork: the index keeps the lowest PID and descriptor (any one confirms).
                if (!index.TryGetValue(inode, out var at) || pid < at.Pid || (pid == at.Pid && fd < at.Fd))
                {
                    index[inode] = (pid, fd);
                }

                if (!inodes.TryGetValue(pid, out var list))
                {
                    inodes[pid] = list = new List<ulong>();
                }

                list.Add(inode);
            }

            var next = new Dictionary<int, Table>(tables.Count);
            foreach (var kv in tables)
            {
                next[kv.Key] = new Table(kv.Value.Count, kv.Value.Ino, inodes.TryGetValue(kv.Key, out var list) ? list.ToArray() : System.Array.Empty<ulong>());
            }

            _index = index;
            _tables = next;
            Primed = true;
            LinuxOwnerResolver.ApplyOwners(connections, walk.Found, pid => walk.Names.TryGetValue(pid, out string? name) ? name : null);
            return walk.Denied;
        }

        public int ResolveTargeted(IReadOnlyList<TcpConnection> connections, IEnumerable<int> likelyProcesses, CancellationToken cancellationToken)
        {
            ProcessesRead = 0;
            IndexHits = 0;
            var wanted = new HashSet<ulong>();
            foreach (var c in connections)
            {
                if (c.ProcessId == null && c.Inode is ulong inode)
                {
                    wanted.Add(inode);
                }
            }

            var found = new List<(ulong Inode, int Pid, int Fd)>();
            var remaining = new HashSet<ulong>(wanted);
            foreach (ulong inode in wanted)
            {
                if (_index.TryGetValue(inode, out var at) && LinuxOwnerResolver.ReadSocketInode(at.Pid, at.Fd, _worker) == inode)
                {
                    found.Add((inode, at.Pid, at.Fd));
                    remaining.Remove(inode);
                    IndexHits++;
                }
            }

            if (remaining.Count > 0)
            {
                ReadChangedProcesses(wanted, remaining, likelyProcesses, found, cancellationToken);
            }

            var names = new Dictionary<int, string?>();
            LinuxOwnerResolver.ApplyOwners(connections, found, pid =>
            {
                if (!names.TryGetValue(pid, out string? name))
                {
                    names[pid] = name = LinuxOwnerResolver.ReadComm(pid);
                }

                return name;
            });
            return wanted.Count - remaining.Count;
        }

        /// <summary>Reads the processes whose table changed since their last read, likely ones first, until <paramref name="remaining"/> is empty.</summary>
        private void ReadChangedProcesses(HashSet<ulong> wanted, HashSet<ulong> remaining, IEnumerable<int> likelyProcesses, List<(ulong Inode, int Pid, int Fd)> found, CancellationToken cancellationToken)
        {
            int[] pids = LinuxOwnerResolver.ListPids();
            var order = new List<int>(pids.Length + 16);
            var listed = new HashSet<int>(pids);
            foreach (int pid in likelyProcesses)
            {
                if (listed.Contains(pid))
                {
                    order.Add(pid);
                }
            }

            order.AddRange(pids);
            var done = new HashSet<int>();
            var w = _worker;
            bool stoppedEarly = false;
            foreach (int pid in order)
            {
                if (!done.Add(pid))
                {
                    continue;
                }

                cancellationToken.ThrowIfCancellationRequested();
                int dirFd = LinuxOwnerResolver.OpenDescriptorTable(pid, w);
                if (dirFd < 0)
                {
                    continue;
                }

                try
                {
                    if (w.TableCount > 0 && _tables.TryGetValue(pid, out var last) && last.Count == w.TableCount && last.Ino == w.TableIno)
                    {
                        continue;
                    }

                    long count = w.TableCount;
                    ulong ino = w.TableIno;
                    ProcessesRead++;
                    w.Found.Clear();
                    if (!LinuxOwnerResolver.ScanOpenTable(dirFd, pid, count, _ => true, w))
                    {
                        continue;
                    }

                    Reindex(pid, count, ino, w.Found);
                    foreach (var (inode, p, fd) in w.Found)
                    {
                        // Every descriptor of a wanted socket in this process (one confirmed by the index included once).
                        if (wanted.Contains(inode) && !found.Contains((inode, p, fd)))
                        {
                            found.Add((inode, p, fd));
                        }
                    }

                    foreach (var (inode, _, _) in w.Found)
                    {
                        remaining.Remove(inode);
                    }
                }
                finally
                {
                    Interop.Libc.close(dirFd);
                }

                if (remaining.Count == 0)
                {
                    stoppedEarly = true;
                    break;
                }
            }

            w.Found.Clear();
            if (!stoppedEarly)
            {
                // Every PID was looked at: the ones gone leave the index.
                var gone = new List<int>();
                foreach (int pid in _tables.Keys)
                {
                    if (!listed.Contains(pid))
                    {
                        gone.Add(pid);
                    }
                }

                foreach (int pid in gone)
                {
                    Reindex(pid, 0, 0, null);
                }
            }
        }

        /// <summary>Replaces what the index holds from <paramref name="pid"/> by what was just read there (null: the process is gone).</summary>
        private void Reindex(int pid, long count, ulong ino, List<(ulong, int, int)>? read)
        {
            if (_tables.TryGetValue(pid, out var last))
            {
                foreach (ulong inode in last.Inodes)
                {
                    if (_index.TryGetValue(inode, out var at) && at.Pid == pid)
                    {
                        _index.Remove(inode);
                    }
                }
            }

            if (read == null)
            {
                _tables.Remove(pid);
                return;
            }

            var inodes = new ulong[read.Count];
            for (int i = 0; i < read.Count; i++)
            {
                var (inode, _, fd) = read[i];
                inodes[i] = inode;
                _index[inode] = (pid, fd);
            }

            // An unknown count (before Linux 6.2) is never recorded as a table: such a process counts as changed every time.
            if (count > 0)
            {
                _tables[pid] = new Table(count, ino, inodes);
            }
            else
            {
                _tables.Remove(pid);
            }
        }

        private sealed class Table
        {
            internal Table(long count, ulong ino, ulong[] inodes)
            {
                Count = count;
                Ino = ino;
                Inodes = inodes;
            }

            internal long Count { get; }

            internal ulong Ino { get; }

            internal ulong[] Inodes { get; }
        }
    }
}
