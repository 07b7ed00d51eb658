namespace CloseWait
{
    /// <summary>One process that holds a file descriptor (Linux) or owns the table entry (Windows) of a socket.</summary>
    public sealed class TcpSocketOwner
    {
        public TcpSocketOwner(int processId, string? processName, int? fileDescriptor)
        {
            ProcessId = processId;
            ProcessName = processName;
            FileDescriptor = fileDescriptor;
        }

        public int ProcessId { get; }

        /// <summary>Same as ProcessId, so that $c.Owners | Stop-Process binds -Id (that process) and never -Name (every process of that name).</summary>
        public int Id => ProcessId;

        public string? ProcessName { get; }

        /// <summary>The descriptor number in that process; $null where the platform does not say.</summary>
        public int? FileDescriptor { get; }

        // Remoting serializes nested objects at depth 1 as their string: keep it informative.
        public override string ToString() =>
            FileDescriptor is int fd
                ? $"{ProcessId}/{ProcessName ?? "?"} (fd {fd})"
                : $"{ProcessId}/{ProcessName ?? "?"}";
    }
}
