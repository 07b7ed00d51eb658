namespace CloseWait.Platform
{
    /// <summary>Where the system TCP keepalive lives on one platform: read, write all or nothing, persist.</summary>
    internal interface IKeepAliveStore
    {
        /// <summary>The platform's units, defaults and limits.</summary>
        KeepAliveRules Rules { get; }

        /// <summary>Where -Persist writes (a file, a registry key); null when this platform cannot persist.</summary>
        string? PersistTarget { get; }

        /// <summary>True when written values apply only after a restart, so running sockets keep the old ones (Windows).</summary>
        bool AppliesAtRestart { get; }

        /// <summary>The current values; in another network namespace (Linux) when one is given.</summary>
        TcpKeepAliveSetting Read(string? networkNamespace);

        /// <summary>
        /// Writes the values the change gives, all or nothing: when one write fails, those already
        /// written are put back and the CloseWaitException names the value that failed and why.
        /// With <paramref name="planned"/> (the values the caller read, planned and confirmed), the
        /// write fails with nothing changed when the values have moved since (KeepAliveChangedMeanwhile).
        /// With <paramref name="readBack"/>, returns the values read after writing (in another
        /// network namespace, in the same entry); else null.
        /// </summary>
        TcpKeepAliveSetting? Write(KeepAliveChange change, string? networkNamespace, TcpKeepAliveSetting? planned = null, bool readBack = false);

        /// <summary>Makes the full set of values survive a reboot (every value of <paramref name="values"/> is given).</summary>
        void Persist(KeepAliveChange values);
    }
}
