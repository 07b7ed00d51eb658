using System.Collections.Generic;

namespace CloseWait.Platform
{
    /// <summary>Where the TIME_WAIT settings live on one platform: read, write all or nothing, persist.</summary>
    internal interface ITimeWaitStore
    {
        /// <summary>Linux, Windows or macOS: which TimeWaitRules apply.</summary>
        string Platform { get; }

        /// <summary>The settings this platform has, and so can set (declared by the store, not inferred from its name).</summary>
        IReadOnlyCollection<TimeWaitField> Fields { get; }

        /// <summary>Where -Persist writes (a file, a registry key); null when this platform cannot persist.</summary>
        string? PersistTarget { get; }

        /// <summary>True when written values apply only after a restart (Windows).</summary>
        bool AppliesAtRestart { get; }

        /// <summary>The current values; in another network namespace (Linux) when one is given.</summary>
        TcpTimeWaitSetting Read(string? networkNamespace);

        /// <summary>The local ports that have a listener (where the port range applies).</summary>
        ICollection<int> ListeningPorts(string? networkNamespace);

        /// <summary>
        /// What planning <paramref name="change"/> needs, read together (in another network namespace,
        /// one entry): the current values and, for a port range or reserved ports, the listening ports
        /// and the connections using a port of the current range.
        /// </summary>
        TimeWaitReading ReadForPlan(TimeWaitChange change, string? networkNamespace);

        /// <summary>
        /// Writes the values the change gives, all or nothing (see <see cref="SettingTransaction"/>).
        /// With <paramref name="planned"/> (the values the caller read, planned and confirmed), the
        /// write fails with nothing changed when a value has moved since (TimeWaitChangedMeanwhile).
        /// With <paramref name="readBack"/>, returns the values read after writing (in the same entry).
        /// </summary>
        TcpTimeWaitSetting? Write(TimeWaitChange change, string? networkNamespace, TcpTimeWaitSetting? planned = null, bool readBack = false);

        /// <summary>Makes the given values survive a reboot, keeping whatever else the persisted configuration holds.</summary>
        void Persist(TimeWaitChange values);
    }
}
