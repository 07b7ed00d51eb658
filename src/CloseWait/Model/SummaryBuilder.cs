using System;
using System.Collections.Generic;
using System.Linq;

namespace CloseWait
{
    /// <summary>
    /// Counts sockets into a <see cref="TcpConnectionSummary"/>; no I/O. Fed either whole connections
    /// (<see cref="Add"/>) or, by a back end that counts without them, per state and per holder.
    /// </summary>
    internal sealed class SummaryBuilder
    {
        private readonly TcpConnectionSummary _summary = new TcpConnectionSummary();
        private readonly Dictionary<int, TcpProcessSummary> _processes = new Dictionary<int, TcpProcessSummary>();
        private int _unowned;

        public void Add(TcpConnection c)
        {
            AddSockets(c.State, 1);
            if (c.Owners.Length == 0)
            {
                _unowned++;
                return;
            }

            // A socket shared after fork counts once for each process that holds it.
            foreach (var pid in c.Owners.Select(o => o.ProcessId).Distinct())
            {
                AddHeld(pid, c.Owners.First(o => o.ProcessId == pid).Program, c.State);
            }
        }

        /// <summary>Counts <paramref name="count"/> sockets in <paramref name="state"/>, owned or not.</summary>
        public void AddSockets(TcpState state, int count)
        {
            _summary.Total += count;
            switch (state)
            {
                case TcpState.Established: _summary.Established += count; break;
                case TcpState.Listen: _summary.Listen += count; break;
                case TcpState.CloseWait: _summary.CloseWait += count; break;
                case TcpState.TimeWait: _summary.TimeWait += count; break;
                case TcpState.SynSent: _summary.SynSent += count; break;
                case TcpState.SynReceived: _summary.SynReceived += count; break;
                case TcpState.FinWait1: _summary.FinWait1 += count; break;
                case TcpState.FinWait2: _summary.FinWait2 += count; break;
                case TcpState.LastAck: _summary.LastAck += count; break;
                case TcpState.Closing: _summary.Closing += count; break;
                case TcpState.Closed: _summary.Closed += count; break;
            }
        }

        /// <summary>Counts sockets that no process was seen holding.</summary>
        public void AddUnowned(int count) => _unowned += count;

        /// <summary>Counts one socket for one process that holds it (once per process, however many descriptors).</summary>
        public void AddHeld(int pid, string? processName, TcpState state)
        {
            if (!_processes.TryGetValue(pid, out var p))
            {
                _processes[pid] = p = new TcpProcessSummary
                {
                    ProcessId = pid,
                    Id = ProcessReference.Listed(pid),
                    Program = processName,
                };
            }

            p.Total++;
            switch (state)
            {
                case TcpState.Established: p.Established++; break;
                case TcpState.Listen: p.Listen++; break;
                case TcpState.CloseWait: p.CloseWait++; break;
                default: p.Other++; break;
            }
        }

        public TcpConnectionSummary Build(bool ownersResolved, string? networkNamespace)
        {
            _summary.Timestamp = DateTime.Now;
            _summary.NetworkNamespace = networkNamespace;
            _summary.Unowned = ownersResolved ? _unowned : (int?)null;
            _summary.ByProcess = _processes.Values
                .OrderByDescending(p => p.Total)
                .ThenByDescending(p => p.CloseWait)
                .ThenBy(p => p.ProcessId)
                .ToArray();
            return _summary;
        }
    }
}
