namespace CloseWait.Platform
{
    /// <summary>What the host shows of one process, to tell which service and which software it is.</summary>
    internal sealed class ProcessFacts
    {
        internal ProcessFacts(int processId, int? parentId, string? name, string? executable, string? commandLine)
        {
            ProcessId = processId;
            ParentId = parentId;
            Name = name;
            Executable = executable;
            CommandLine = commandLine;
        }

        internal int ProcessId { get; }

        /// <summary>The parent's PID; null where the platform does not say.</summary>
        internal int? ParentId { get; }

        /// <summary>The process name (Linux comm, at most 15 characters).</summary>
        internal string? Name { get; }

        /// <summary>The executable's path (Linux /proc/&lt;pid&gt;/exe; root only for other users' processes); null when unreadable.</summary>
        internal string? Executable { get; }

        /// <summary>The arguments joined by spaces; null when unreadable.</summary>
        internal string? CommandLine { get; }
    }

    /// <summary>Parents, names and command lines of processes, for grouping sockets into services.</summary>
    internal interface IProcessTable
    {
        /// <summary>Whether this platform gives parents: without them each PID is its own service.</summary>
        bool GivesParents { get; }

        /// <summary>The process's facts; null when it is gone or cannot be read.</summary>
        ProcessFacts? Get(int pid);
    }

    /// <summary>Where nothing more than the table's owner is known (Windows, macOS for now): each PID stands alone.</summary>
    internal sealed class NoProcessTable : IProcessTable
    {
        public bool GivesParents => false;

        public ProcessFacts? Get(int pid) => null;
    }
}
