using System;
using System.Globalization;

namespace CloseWait
{
    /// <summary>
    /// Where connections are listed: the machine and boot whose kernel numbered their cookies, and
    /// the network namespace they live in. A cookie (and a PID) means something only there, so a
    /// connection listed elsewhere (another host, before a reboot, another namespace reached over
    /// remoting) must never act here.
    /// </summary>
    internal sealed class ConnectionOrigin
    {
        /// <summary>Windows boot identities: "windows:{MachineGuid}:{boot time, Unix seconds}".</summary>
        internal const string WindowsPrefix = "windows:";

        /// <summary>
        /// A Windows boot time is computed (now minus the tick count), so two readings of one boot
        /// differ by the clock's drift and adjustments since boot; beyond this they are two boots.
        /// </summary>
        internal static readonly TimeSpan WindowsBootTolerance = TimeSpan.FromSeconds(30);

        internal ConnectionOrigin(string? computerName, string? bootId, ulong? networkNamespaceInode)
        {
            ComputerName = computerName;
            BootId = bootId;
            NetworkNamespaceInode = networkNamespaceInode;
        }

        internal string? ComputerName { get; }

        internal string? BootId { get; }

        internal ulong? NetworkNamespaceInode { get; }

        internal TcpConnection Stamp(TcpConnection c)
        {
            c.ComputerName = ComputerName;
            c.BootId = BootId;
            c.NetworkNamespaceId ??= NetworkNamespaceInode; // -AllNetworkNamespaces sets each socket's own
            return c;
        }

        /// <summary>A Windows boot identity from the machine GUID and the boot time.</summary>
        internal static string WindowsBootId(string machineGuid, DateTime bootTimeUtc) =>
            WindowsPrefix + machineGuid.Trim().ToLowerInvariant() + ":" +
            ((long)(bootTimeUtc - new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc)).TotalSeconds).ToString(CultureInfo.InvariantCulture);

        /// <summary>True when two boot identities name the same machine and boot.</summary>
        internal static bool SameBoot(string a, string b)
        {
            if (string.Equals(a, b, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }

            if (SplitWindows(a) is (string guidA, long secondsA) && SplitWindows(b) is (string guidB, long secondsB))
            {
                return string.Equals(guidA, guidB, StringComparison.OrdinalIgnoreCase)
                    && Math.Abs(secondsA - secondsB) <= WindowsBootTolerance.TotalSeconds;
            }

            return false;
        }

        /// <summary>
        /// Null when the connection was listed here (same boot, and the namespace the close would act
        /// in); otherwise where it was listed, in words. Unknown values (a record without them, a
        /// platform that has none) do not refuse.
        /// </summary>
        internal static string? Elsewhere(TcpConnection c, string? localBootId, ulong? targetNamespaceInode)
        {
            string host = c.ComputerName ?? "another machine";
            if (c.BootId != null && localBootId != null && !SameBoot(c.BootId, localBootId))
            {
                return $"host {host} (boot {c.BootId}), not this machine's current boot ({localBootId})";
            }

            if (c.NetworkNamespaceId is ulong listed && targetNamespaceInode is ulong target && listed != target)
            {
                return $"host {host} in network namespace net:[{listed}], not in net:[{target}] where this close would act";
            }

            return null;
        }

        private static (string Guid, long Seconds)? SplitWindows(string id)
        {
            if (!id.StartsWith(WindowsPrefix, StringComparison.OrdinalIgnoreCase))
            {
                return null;
            }

            int colon = id.LastIndexOf(':');
            if (colon <= WindowsPrefix.Length
                || !long.TryParse(id.Substring(colon + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long seconds))
            {
                return null;
            }

            return (id.Substring(WindowsPrefix.Length, colon - WindowsPrefix.Length), seconds);
        }
    }
}
