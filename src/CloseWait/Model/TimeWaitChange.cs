using System;
using System.Collections.Generic;

namespace CloseWait
{
    /// <summary>The TIME_WAIT settings Set-TcpTimeWaitSetting changes, by the names the cmdlet and the stores share.</summary>
    internal enum TimeWaitField
    {
        PortRange,
        ReservedPorts,
        TimeWaitReuse,
        MaxTimeWaitBuckets,
        FinWait2Timeout,
        TimeWaitDuration,
        MaximumSegmentLifetime,
    }

    /// <summary>TIME_WAIT settings to set; a null value stays as it is.</summary>
    internal sealed class TimeWaitChange
    {
        public (int Start, int End)? PortRange { get; set; }

        /// <summary>The kernel's list syntax ("8080,9000-9010"); "" clears it.</summary>
        public string? ReservedPorts { get; set; }

        public int? TimeWaitReuse { get; set; }

        public int? MaxTimeWaitBuckets { get; set; }

        public TimeSpan? FinWait2Timeout { get; set; }

        /// <summary>Windows TcpTimedWaitDelay.</summary>
        public TimeSpan? TimeWaitDuration { get; set; }

        /// <summary>macOS net.inet.tcp.msl.</summary>
        public TimeSpan? MaximumSegmentLifetime { get; set; }

        public IEnumerable<TimeWaitField> Given()
        {
            if (PortRange != null)
            {
                yield return TimeWaitField.PortRange;
            }

            if (ReservedPorts != null)
            {
                yield return TimeWaitField.ReservedPorts;
            }

            if (TimeWaitReuse != null)
            {
                yield return TimeWaitField.TimeWaitReuse;
            }

            if (MaxTimeWaitBuckets != null)
            {
                yield return TimeWaitField.MaxTimeWaitBuckets;
            }

            if (FinWait2Timeout != null)
            {
                yield return TimeWaitField.FinWait2Timeout;
            }

            if (TimeWaitDuration != null)
            {
                yield return TimeWaitField.TimeWaitDuration;
            }

            if (MaximumSegmentLifetime != null)
            {
                yield return TimeWaitField.MaximumSegmentLifetime;
            }
        }

        public bool IsEmpty
        {
            get
            {
                using var e = Given().GetEnumerator();
                return !e.MoveNext();
            }
        }
    }
}
