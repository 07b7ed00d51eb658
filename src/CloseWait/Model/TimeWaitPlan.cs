using System;
using System.Collections.Generic;
using System.Linq;
using CloseWait.Platform;

namespace CloseWait
{
    /// <summary>What Set-TcpTimeWaitSetting plans from, read together (see <see cref="ITimeWaitStore.ReadForPlan"/>).</summary>
    internal sealed class TimeWaitReading
    {
        public TimeWaitReading(TcpTimeWaitSetting current, ICollection<int> listeningPorts, int? inUse)
        {
            Current = current;
            ListeningPorts = listeningPorts;
            InUse = inUse;
        }

        public TcpTimeWaitSetting Current { get; }

        /// <summary>Local ports with a listener (TCP, and bound UDP on Linux); empty when the change gives no port range or reserved ports.</summary>
        public ICollection<int> ListeningPorts { get; }

        /// <summary>Connections (not listeners) using a port of the current range; null when the change gives no port range.</summary>
        public int? InUse { get; }

        /// <summary>
        /// Reads what planning <paramref name="change"/> needs through the store and the socket table,
        /// on the calling thread: a store that enters a namespace calls this inside its one entry.
        /// </summary>
        internal static TimeWaitReading Take(ITimeWaitStore store, ISocketTable table, TimeWaitChange change, string? networkNamespace, NamespaceIdentity? identity)
        {
            var current = store.Read(networkNamespace);
            var listening = change.PortRange != null || change.ReservedPorts != null ? store.ListeningPorts(networkNamespace) : Array.Empty<int>();
            int? inUse = null;
            if (change.PortRange != null && current.PortRangeStart is int start && current.PortRangeEnd is int end)
            {
                var query = new SocketQuery { IncludeDetails = false, Namespace = identity };
                inUse = table.Read(query, default).Count(c => c.State != TcpState.Listen && c.LocalPort >= start && c.LocalPort <= end);
            }

            return new TimeWaitReading(current, listening, inUse);
        }
    }

    /// <summary>
    /// Set-TcpTimeWaitSetting as one transaction: the plan is made once from one reading, confirmed
    /// by the caller, then applied exactly (compare-and-fail when the values moved meanwhile),
    /// persisted, and the running values put back when persisting fails.
    /// </summary>
    internal sealed class TimeWaitPlan
    {
        private readonly ITimeWaitStore _store;

        private TimeWaitPlan(ITimeWaitStore store, TimeWaitChange change, string? networkNamespace, TimeWaitReading reading)
        {
            _store = store;
            Change = change;
            Namespace = networkNamespace;
            Reading = reading;
        }

        public TimeWaitChange Change { get; }

        public string? Namespace { get; }

        public TimeWaitReading Reading { get; }

        /// <summary>Reads once and checks the change against those values (throws the refusal).</summary>
        internal static TimeWaitPlan Make(ITimeWaitStore store, TimeWaitChange change, string? networkNamespace)
        {
            var reading = store.ReadForPlan(change, networkNamespace);
            var invalid = TimeWaitRules.Validate(store.Platform, store.Fields, change, reading.Current, reading.ListeningPorts);
            if (invalid != null)
            {
                throw invalid;
            }

            return new TimeWaitPlan(store, change, networkNamespace, reading);
        }

        /// <summary>
        /// Writes the planned change (nothing when the values moved since the reading), persists it
        /// when asked, and puts the running values back when persisting fails. Returns the values read
        /// after writing when <paramref name="readBack"/>.
        /// </summary>
        internal TcpTimeWaitSetting? Apply(bool persist, bool readBack)
        {
            var after = _store.Write(Change, Namespace, planned: Reading.Current, readBack: readBack);
            if (!persist)
            {
                return after;
            }

            try
            {
                _store.Persist(Change);
            }
            catch (CloseWaitException failure)
            {
                string outcome;
                try
                {
                    _store.Write(Back(Reading.Current, Change), Namespace);
                    outcome = "The running values that had been set were put back, so nothing was changed.";
                }
                catch (CloseWaitException e)
                {
                    outcome = "Putting the running values back failed too, so the new running values stay: " + e.Message;
                }

                throw new CloseWaitException(failure.ErrorId, failure.Category, failure.Message + " " + outcome, failure.Target, failure) { NativeError = failure.NativeError };
            }

            return after;
        }

        /// <summary>The running values of the fields the change gave, to put back.</summary>
        internal static TimeWaitChange Back(TcpTimeWaitSetting s, TimeWaitChange change)
        {
            var back = new TimeWaitChange();
            foreach (var f in change.Given())
            {
                switch (f)
                {
                    case TimeWaitField.PortRange:
                        back.PortRange = (s.PortRangeStart!.Value, s.PortRangeEnd!.Value);
                        break;
                    case TimeWaitField.ReservedPorts:
                        back.ReservedPorts = s.ReservedPorts;
                        break;
                    case TimeWaitField.TimeWaitReuse:
                        back.TimeWaitReuse = s.TimeWaitReuse;
                        break;
                    case TimeWaitField.MaxTimeWaitBuckets:
                        back.MaxTimeWaitBuckets = s.MaxTimeWaitBuckets;
                        break;
                    case TimeWaitField.FinWait2Timeout:
                        back.FinWait2Timeout = s.FinWait2Timeout;
                        break;
                    case TimeWaitField.TimeWaitDuration:
                        back.TimeWaitDuration = s.TimeWaitDuration;
                        break;
                    case TimeWaitField.MaximumSegmentLifetime:
                        back.MaximumSegmentLifetime = s.MaximumSegmentLifetime;
                        break;
                }
            }

            return back;
        }
    }
}
