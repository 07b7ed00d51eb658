using System;

namespace CloseWait
{
    /// <summary>The three keepalive values, by the names the cmdlets and the platform rules share.</summary>
    internal enum KeepAliveField
    {
        Time,
        Interval,
        Probes,
    }

    /// <summary>Keepalive values to set; a null value stays as it is.</summary>
    internal sealed class KeepAliveChange
    {
        internal static readonly KeepAliveField[] Fields = { KeepAliveField.Time, KeepAliveField.Interval, KeepAliveField.Probes };

        public KeepAliveChange(TimeSpan? time = null, TimeSpan? interval = null, int? probes = null)
        {
            Time = time;
            Interval = interval;
            Probes = probes;
        }

        public TimeSpan? Time { get; }

        public TimeSpan? Interval { get; }

        public int? Probes { get; }

        public bool IsEmpty => Time == null && Interval == null && Probes == null;

        /// <summary>This change with the unset values taken from <paramref name="current"/>.</summary>
        internal KeepAliveChange Over(TcpKeepAliveSetting current) =>
            new KeepAliveChange(Time ?? current.Time, Interval ?? current.Interval, Probes ?? current.Probes);
    }
}
