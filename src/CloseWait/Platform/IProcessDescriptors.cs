namespace CloseWait.Platform
{
    /// <summary>How many descriptors a process has open, against its limit: a CLOSE_WAIT leak ends in EMFILE.</summary>
    internal interface IProcessDescriptors
    {
        /// <summary>
        /// The process's open descriptors and its soft limit (null when unlimited or not given).
        /// False when the platform cannot tell or the process cannot be read (gone, not root).
        /// </summary>
        bool TryGet(int pid, out int open, out long? limit);
    }

    /// <summary>Windows and macOS: no per-process descriptor count is read there (Windows handles are not sockets' descriptors).</summary>
    internal sealed class NoProcessDescriptors : IProcessDescriptors
    {
        public bool TryGet(int pid, out int open, out long? limit)
        {
            open = 0;
            limit = null;
            return false;
        }
    }
}
