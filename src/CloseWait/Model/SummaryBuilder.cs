using System;
using System.Collections.Generic;
using System.Linq;

namespace CloseWait
{
    /// <summary>Counts connections into a <see cref="TcpConnectionSummary"/>; no I/O.</summary>
    internal sealed class SummaryBuilder
    {
        private readonly TcpConnectionSummary _summary = new TcpConnectionSummary();
        private readonly Dictionary<int, TcpProcessSummary> _processes = new Dictionary<int, TcpProcessSummary>();
        private int _unowned;

        public void Add(TcpConnection c)
        {
            _summary.Total++;
            switch (c.State)
            {
                case TcpState.Established: _summary.Established++; break;
                case TcpState.Listen: _summary.Listen++; break;
                case TcpState.CloseWait: _summary.CloseWait++; break;
                case TcpState.TimeWait: _summary.TimeWait++; break;
                case TcpState.SynSent: _summary.SynSent++; break;
                case TcpState.SynReceived: _summary.SynReceived++; break;
                case TcpState.FinWait1: _summary.FinWait1++; break;
                case TcpState.FinWait2: _summary.FinWait2++; break;
                case TcpState.LastAck: _summary.LastAck++; break;
                case TcpState.Closing: _summary.Closing++; break;
                case TcpState.Closed: _summary.Closed++; break;
            }

            if (c.Owners.Length == 0)
            {
                _unowned++;
                return;
            }

            // A socket shared after fork counts once for each process that holds it.
            foreach (var pid in c.Owners.Select(o => o.ProcessId).Distinct())
            {
                if (!_processes.TryGetValue(pid, out var p))
                {
                    _processes[pid] = p = new TcpProcessSummary
                    {
                        ProcessId = pid,
                        ProcessName = c.Owners.First(o => o.ProcessId == pid).ProcessName,
                    };
                }

                p.Total++;
                switch (c.State)
                {
                    case TcpState.Established: p.Established++; break;
                    case TcpState.Listen: p.Listen++; break;
                    case TcpState.CloseWait: p.CloseWait++; break;
                    default: p.Other++; break;
                }
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
