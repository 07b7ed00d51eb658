using System;

namespace CloseWait
{
    /// <summary>
    /// One thing Watch-TcpCloseWait saw happen: a socket entered CLOSE_WAIT, left it, or a
    /// process's count of CLOSE_WAIT sockets kept rising. Event is a plain string (Entered, Left,
    /// Growing) so that CSV, JSON and remoting carry the name.
    /// </summary>
    public sealed class TcpCloseWaitEvent
    {
        public const string Entered = "Entered";
        public const string Left = "Left";
        public const string Growing = "Growing";

        internal TcpCloseWaitEvent(string kind, DateTime time)
        {
            Event = kind;
            Time = time;
        }

        /// <summary>Entered, Left or Growing.</summary>
        public string Event { get; }

        /// <summary>When the sample that saw it was taken (local time).</summary>
        public DateTime Time { get; }

        /// <summary>The owning process (Growing: the process whose count rises); $null when unknown or with -NoOwner.</summary>
        public int? ProcessId { get; internal set; }

        /// <summary>The owner for Stop-Process: converts to ProcessId only while this session's listing holds (see ProcessReference).</summary>
        public ProcessReference Id => Reference ?? ProcessReference.Of(ProcessId, Connection?.Owners, Connection?.ComputerName);

        /// <summary>Growing: the reference of the process whose count rises (there is no single Connection).</summary>
        internal ProcessReference? Reference { get; set; }

        /// <summary>The owner's name. Not ProcessName: Stop-Process would bind -Name from it.</summary>
        public string? Program { get; internal set; }

        /// <summary>Growing: the service whose count rises ("python3 (10288)", "(no owner) :8080"); null for the other events and when grouped per process.</summary>
        public string? Service { get; internal set; }

        /// <summary>Growing: the processes holding the service's sockets in this sample.</summary>
        public TextList<int>? ProcessIds { get; internal set; }

        /// <summary>The socket's local port; for Growing, the port all of the process's stuck sockets share, else $null.</summary>
        public int? LocalPort { get; internal set; }

        public string? RemoteAddress { get; internal set; }

        public int? RemotePort { get; internal set; }

        /// <summary>Entered, Left: the socket as last seen (Left: before it went).</summary>
        public TcpConnection? Connection { get; internal set; }

        /// <summary>
        /// Left: the measured time in CLOSE_WAIT, from when it entered (first seen minus the
        /// kernel's stuck time, IdleTime, bounded by the sample before) to when it was last seen.
        /// Entered: how long it had already been stuck when first seen (the kernel's IdleTime), if known.
        /// </summary>
        public TimeSpan? Duration { get; internal set; }

        /// <summary>Growing: the process's CLOSE_WAIT sockets now (among those watched).</summary>
        public int? Count { get; internal set; }

        /// <summary>Growing: how fast that count rose, per minute, since the rise began.</summary>
        public double? RatePerMinute { get; internal set; }

        /// <summary>Growing: descriptors the process has open, where the platform tells.</summary>
        public long? OpenDescriptors { get; internal set; }

        /// <summary>Growing: the process's descriptor limit (soft RLIMIT_NOFILE), where the platform tells.</summary>
        public long? DescriptorLimit { get; internal set; }

        /// <summary>Growing: at this rate, when the process runs out of descriptors; $null when the limit is unknown.</summary>
        public TimeSpan? DescriptorsExhaustedIn { get; internal set; }

        /// <summary>The network namespace watched when not the caller's own; $null for the caller's.</summary>
        public string? NetworkNamespace { get; internal set; }

        /// <summary>Linux: the inode of the socket's (Growing: the process's first socket's) network namespace.</summary>
        public ulong? NetworkNamespaceId { get; internal set; }

        public override string ToString() => $"{Time:HH:mm:ss} {Event} {ProcessId}/{Program} {Connection}";
    }
}
