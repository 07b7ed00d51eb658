using System;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Sockets;

namespace CloseWait
{
    /// <summary>
    /// An address or a CIDR prefix (10.0.0.0/8, fe80::/10, 127.0.0.1) given to -LocalAddress or
    /// -RemoteAddress. PowerShell converts a string to this type through <see cref="Parse"/>.
    /// An IPv4 prefix also matches IPv4-mapped IPv6 addresses (::ffff:10.1.2.3).
    /// </summary>
    public sealed class IPPrefix
    {
        private readonly byte[] _bytes;

        private IPPrefix(IPAddress address, int length, string text)
        {
            Address = address;
            PrefixLength = length;
            _bytes = address.GetAddressBytes();
            _text = text;
        }

        private readonly string _text;

        public IPAddress Address { get; }

        public int PrefixLength { get; }

        public static IPPrefix Parse(string text)
        {
            if (TryParse(text, out var prefix, out var error))
            {
                return prefix!;
            }

            throw new FormatException(error);
        }

        internal static bool TryParse(string? text, out IPPrefix? prefix, out string error)
        {
            prefix = null;
            error = string.Empty;
            string s = (text ?? string.Empty).Trim();
            if (s.Length == 0)
            {
                error = "An address cannot be empty. Give an address such as 10.0.0.5 or a prefix such as 10.0.0.0/8.";
                return false;
            }

            string addressPart = s;
            int? length = null;
            int slash = s.IndexOf('/');
            if (slash >= 0)
            {
                addressPart = s.Substring(0, slash);
                if (!int.TryParse(s.Substring(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int l))
                {
                    error = $"'{s}' is not a valid prefix: the length after '/' must be a whole number.";
                    return false;
                }

                length = l;
            }

            // Accept the bracketed form users copy from netstat ([::1]).
            if (addressPart.StartsWith("[", StringComparison.Ordinal) && addressPart.EndsWith("]", StringComparison.Ordinal))
            {
                addressPart = addressPart.Substring(1, addressPart.Length - 2);
            }

            if (addressPart.IndexOf(':') < 0 && !IsPlainDottedQuad(addressPart, s, slash >= 0 ? s.Substring(slash) : string.Empty, out error))
            {
                return false;
            }

            if (!IPAddress.TryParse(addressPart, out var address))
            {
                error = $"'{s}' is not an IP address or CIDR prefix. Give an address such as 10.0.0.5 or ::1, or a prefix such as 10.0.0.0/8 or fe80::/10.";
                return false;
            }

            int max = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
            int len = length ?? max;
            if (len < 0 || len > max)
            {
                error = $"'{s}' is not a valid prefix: the length must be between 0 and {max} for {(max == 32 ? "IPv4" : "IPv6")}.";
                return false;
            }

            prefix = new IPPrefix(address, len, s);
            return true;
        }

        /// <summary>
        /// Four decimal parts. IPAddress.Parse also takes 10.1 and reads 010 as octal (8) and 0x0a
        /// as hex, so a zero-padded address would silently select another host.
        /// </summary>
        private static bool IsPlainDottedQuad(string address, string text, string suffix, out string error)
        {
            error = $"'{text}' is not an IP address or CIDR prefix. Give an address such as 10.0.0.5 or ::1, or a prefix such as 10.0.0.0/8 or fe80::/10.";
            string[] parts = address.Split('.');
            if (parts.Length != 4 || parts.Any(p => p.Length == 0 || p.Length > 3 || !p.All(ch => ch >= '0' && ch <= '9')))
            {
                return false;
            }

            if (parts.Any(p => p.Length > 1 && p[0] == '0'))
            {
                string plain = string.Join(".", parts.Select(p => p.TrimStart('0').Length == 0 ? "0" : p.TrimStart('0')));
                error = $"'{text}' has a part with a leading zero, which IP parsers read as octal: write {plain}{suffix}.";
                return false;
            }

            return true;
        }

        public bool Contains(IPAddress candidate)
        {
            byte[] c = candidate.GetAddressBytes();
            if (c.Length != _bytes.Length)
            {
                if (_bytes.Length == 4 && c.Length == 16 && IsV4Mapped(c))
                {
                    byte[] v4 = new byte[4];
                    Array.Copy(c, 12, v4, 0, 4);
                    c = v4;
                }
                else if (_bytes.Length == 16 && c.Length == 4 && IsV4Mapped(_bytes))
                {
                    return PrefixLength >= 96 && Matches(_bytes, 12, c, PrefixLength - 96);
                }
                else
                {
                    return false;
                }
            }

            return Matches(_bytes, 0, c, PrefixLength);
        }

        private static bool Matches(byte[] prefix, int prefixOffset, byte[] candidate, int bits)
        {
            int i = 0;
            for (; bits >= 8; bits -= 8, i++)
            {
                if (prefix[prefixOffset + i] != candidate[i])
                {
                    return false;
                }
            }

            if (bits == 0)
            {
                return true;
            }

            int mask = (0xFF << (8 - bits)) & 0xFF;
            return (prefix[prefixOffset + i] & mask) == (candidate[i] & mask);
        }

        private static bool IsV4Mapped(byte[] b)
        {
            for (int i = 0; i < 10; i++)
            {
                if (b[i] != 0)
                {
                    return false;
                }
            }

            return b[10] == 0xFF && b[11] == 0xFF;
        }

        public override string ToString() => _text;
    }
}
