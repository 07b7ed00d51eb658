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

        /// <summary>Writes the values the change gives, all or nothing (see <see cref="SettingTransaction"/>).</summary>
        void Write(TimeWaitChange change, string? networkNamespace);

        /// <summary>Makes the given values survive a reboot, keeping whatever else the persisted configuration holds.</summary>
        void Persist(TimeWaitChange values);
    }
}
