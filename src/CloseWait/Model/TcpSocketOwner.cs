namespace CloseWait
{
    /// <summary>One process that holds a file descriptor (Linux) or owns the table entry (Windows) of a socket.</summary>
    public sealed class TcpSocketOwner
    {
        /// <summary>An owner given from outside (a record, a test): its Id never converts to a PID.</summary>
        public TcpSocketOwner(int processId, string? program, int? fileDescriptor)
            : this(processId, program, fileDescriptor, ProcessReference.NotListed(processId, null))
        {
        }

        private TcpSocketOwner(int processId, string? program, int? fileDescriptor, ProcessReference id)
        {
            ProcessId = processId;
            Program = program;
            FileDescriptor = fileDescriptor;
            Id = id;
        }

        /// <summary>An owner this session's own listing found just now: its Id converts to the PID while that process lives.</summary>
        internal static TcpSocketOwner Listed(int processId, string? program, int? fileDescriptor) =>
            new TcpSocketOwner(processId, program, fileDescriptor, ProcessReference.Listed(processId));

        public int ProcessId { get; }

        /// <summary>
        /// What $c.Owners | Stop-Process binds -Id from: exactly this process while it lives, and
        /// nothing after any round trip (see <see cref="ProcessReference"/>).
        /// </summary>
        public ProcessReference Id { get; }

        /// <summary>The process's name (Linux comm). Not ProcessName: Stop-Process would bind -Name from it.</summary>
        public string? Program { get; }

        /// <summary>The descriptor number in that process; $null where the platform does not say.</summary>
        public int? FileDescriptor { get; }

        // Remoting serializes nested objects at depth 1 as their string: keep it informative.
        public override string ToString() =>
            FileDescriptor is int fd
                ? $"{ProcessId}/{Program ?? "?"} (fd {fd})"
                : $"{ProcessId}/{Program ?? "?"}";
    }
}
