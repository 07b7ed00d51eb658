using System.Collections.Generic;
using System.Threading;

namespace CloseWait.Platform.Linux
{
    /// <summary>
    /// Get-TcpConnectionSummary on Linux without a connection object per socket: the netlink dump
    /// is reduced to state counts and an inode → state table (<see cref="LinuxSocketStates"/>), and
    /// the one owner walk reports inode → PID, which is counted per process here. Same counting
    /// rules as <see cref="SummaryBuilder.Add"/>: a socket shared after fork counts once for each
    /// process that holds it, however many descriptors each has.
    /// </summary>
    internal sealed class LinuxSummaryCounter : ISummaryCounter
    {
        private readonly LinuxSocketTable _table;
        private readonly LinuxOwnerResolver? _owners;

        internal LinuxSummaryCounter(LinuxSocketTable table, LinuxOwnerResolver? owners)
        {
            _table = table;
            _owners = owners;
        }

        /// <summary>Processes that could not be inspected during the owner walk (not root).</summary>
        public int InaccessibleProcesses { get; private set; }

        /// <summary>Sockets with an inode whose owner stayed unknown.</summary>
        public int UnownedSockets { get; private set; }

        /// <summary>
        /// Counts the table into <paramref name="builder"/>; false, with nothing counted, when netlink
        /// is refused (the caller counts through the /proc fallback instead).
        /// </summary>
        public bool TryCount(SocketQuery query, SummaryBuilder builder, CancellationToken cancellationToken)
        {
            var states = _table.ReadStates(query, keepInodes: _owners != null, cancellationToken);
            if (states == null)
            {
                return false;
            }

            for (int s = 1; s <= 12; s++)
            {
                builder.AddSockets(LinuxInetDiag.ToTcpState(s)!.Value, states.InState(s));
            }

            if (_owners == null)
            {
                return true;
            }

            int held = 0;
            if (states.Count > 0)
            {
                var walk = _owners.FindOwners(states.Contains, cancellationToken);
                InaccessibleProcesses = walk.Denied;
                held = CountHolders(walk, states, builder);
            }

            builder.AddUnowned(states.Total - held);
            UnownedSockets = states.Count - held;
            return true;
        }

        /// <summary>Counts each process's distinct sockets; returns how many sockets have at least one holder.</summary>
        private static int CountHolders(LinuxOwnerResolver.OwnerWalk walk, LinuxSocketStates states, SummaryBuilder builder)
        {
            var found = walk.Found;
            var indexes = new List<int>();
            int held = 0;
            for (int i = 0; i < found.Count;)
            {
                int pid = found[i].Pid;
                indexes.Clear();
                for (; i < found.Count && found[i].Pid == pid; i++)
                {
                    indexes.Add(states.IndexOf(found[i].Inode));
                }

                // Two descriptors of one socket in one process (dup) count once.
                indexes.Sort();
                walk.Names.TryGetValue(pid, out string? name);
                for (int k = 0; k < indexes.Count; k++)
                {
                    if (k > 0 && indexes[k] == indexes[k - 1])
                    {
                        continue;
                    }

                    builder.AddHeld(pid, name, LinuxInetDiag.ToTcpState(states.StateAt(indexes[k]))!.Value);
                    if (states.MarkHeld(indexes[k]))
                    {
                        held++;
                    }
                }
            }

            return held;
        }
    }
}
