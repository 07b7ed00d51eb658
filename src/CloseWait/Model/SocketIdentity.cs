using System;

namespace CloseWait
{
    /// <summary>
    /// The best identity of a socket its table gives, to follow it from one sample to the next:
    /// Linux the socket cookie (unique while the kernel runs), or the inode (/proc fallback);
    /// Windows the 4-tuple and the creation time; macOS the 4-tuple. A 4-tuple alone could only
    /// mistake a new socket for an old one if the old one closed and a new one with the same
    /// addresses and ports reached CLOSE_WAIT between two samples.
    /// </summary>
    internal readonly struct SocketIdentity : IEquatable<SocketIdentity>
    {
        private readonly ulong _id;
        private readonly byte _kind;
        private readonly string? _local;
        private readonly string? _remote;
        private readonly int _ports;
        private readonly long _created;

        private SocketIdentity(byte kind, ulong id, string? local, string? remote, int ports, long created)
        {
            _kind = kind;
            _id = id;
            _local = local;
            _remote = remote;
            _ports = ports;
            _created = created;
        }

        internal static SocketIdentity Of(TcpConnection c)
        {
            if (c.Cookie is ulong cookie)
            {
                return new SocketIdentity(1, cookie, null, null, 0, 0);
            }

            if (c.Inode is ulong inode)
            {
                return new SocketIdentity(2, inode, null, null, 0, 0);
            }

            return new SocketIdentity(3, (ulong)c.AddressFamily, c.LocalAddress, c.RemoteAddress,
                (c.LocalPort << 16) | (c.RemotePort & 0xFFFF), c.CreationTime?.Ticks ?? 0);
        }

        public bool Equals(SocketIdentity other) =>
            _kind == other._kind && _id == other._id && _ports == other._ports && _created == other._created
            && string.Equals(_local, other._local, StringComparison.Ordinal)
            && string.Equals(_remote, other._remote, StringComparison.Ordinal);

        public override bool Equals(object? obj) => obj is SocketIdentity other && Equals(other);

        public override int GetHashCode()
        {
            unchecked
            {
                int h = (_kind * 397) ^ _id.GetHashCode();
                h = (h * 397) ^ _ports;
                h = (h * 397) ^ _created.GetHashCode();
                h = (h * 397) ^ (_local == null ? 0 : StringComparer.Ordinal.GetHashCode(_local));
                return (h * 397) ^ (_remote == null ? 0 : StringComparer.Ordinal.GetHashCode(_remote));
            }
        }
    }
}
