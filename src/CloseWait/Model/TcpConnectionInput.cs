using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Management.Automation;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace CloseWait
{
    /// <summary>
    /// Rebuilds a TcpConnection from an object that lost its .NET type on the way: through remoting
    /// or PSSerializer (Deserialized.CloseWait.TcpConnection) or Export-Csv/Import-Csv
    /// (CSV:CloseWait.TcpConnection). Only the public properties travel, so addresses are parsed
    /// from their text and the socket's identity comes from Cookie and Inode.
    /// </summary>
    internal static class TcpConnectionInput
    {
        internal const string TypeName = "CloseWait.TcpConnection";

        private static readonly Regex OwnerText = new Regex(@"^(?<pid>\d+)/(?<name>.*?)(?: \(fd (?<fd>\d+)\))?$", RegexOptions.CultureInvariant);

        /// <summary>True when the object says it was a CloseWait.TcpConnection.</summary>
        internal static bool IsConnectionRecord(PSObject pso)
        {
            foreach (string name in pso.TypeNames)
            {
                if (name == TypeName || name.EndsWith("." + TypeName, StringComparison.Ordinal) || name.EndsWith(":" + TypeName, StringComparison.Ordinal))
                {
                    return true;
                }
            }

            return false;
        }

        /// <summary>
        /// Throws <see cref="FormatException"/> naming the property that is missing or malformed and
        /// what to give instead; its message never carries a .NET conversion text.
        /// </summary>
        internal static TcpConnection FromRecord(PSObject pso)
        {
            var local = Address(pso, "LocalAddress");
            var remote = Address(pso, "RemoteAddress");
            var family = Required<AddressFamily>(pso, "AddressFamily");
            if (family != local.AddressFamily || family != remote.AddressFamily)
            {
                throw new FormatException($"AddressFamily {family} does not match the addresses {local} and {remote}: give InterNetwork for IPv4 addresses, InterNetworkV6 for IPv6 ones.");
            }

            int localPort = (int)Required<long>(pso, "LocalPort", 0, 65535);
            int remotePort = (int)Required<long>(pso, "RemotePort", 0, 65535);
            var state = Required<TcpState>(pso, "State");

            // NativeState is not public, so it does not travel.
            var c = new TcpConnection(family, local, localPort, remote, remotePort, state, 0, Text(pso, "Source") ?? string.Empty)
            {
                ReceiveQueue = Optional<long>(pso, "ReceiveQueue", 0, long.MaxValue),
                SendQueue = Optional<long>(pso, "SendQueue", 0, long.MaxValue),
                ProcessId = (int?)Optional<long>(pso, "ProcessId", 0, int.MaxValue),
                Program = Text(pso, "Program") ?? Text(pso, "ProcessName"),
                UserId = Optional<long>(pso, "UserId", 0, uint.MaxValue),
                IdleTime = Optional<TimeSpan>(pso, "IdleTime"),
                DataIdleTime = Optional<TimeSpan>(pso, "DataIdleTime"),
                Inode = Optional<ulong>(pso, "Inode", 0, ulong.MaxValue),
                Cookie = Optional<ulong>(pso, "Cookie", 0, ulong.MaxValue),
                InterfaceIndex = (int?)Optional<long>(pso, "InterfaceIndex", 0, int.MaxValue),
                CreationTime = Date(pso, "CreationTime"),
                NetworkNamespace = Text(pso, "NetworkNamespace"),
                ComputerName = Text(pso, "ComputerName"),
                BootId = Text(pso, "BootId"),
                ReachedAs = Text(pso, "PSComputerName"),
                NetworkNamespaceId = Optional<ulong>(pso, "NetworkNamespaceId", 0, ulong.MaxValue),
                NetworkNamespaceName = Text(pso, "NetworkNamespaceName"),
                ContainerId = Text(pso, "ContainerId"),
                ContainerName = Text(pso, "ContainerName"),
                ContainerRuntime = Text(pso, "ContainerRuntime"),
                PodNamespace = Text(pso, "PodNamespace"),
                PodName = Text(pso, "PodName"),
                PodUid = Text(pso, "PodUid"),
            };

            if (c.Cookie == ulong.MaxValue)
            {
                // INET_DIAG_NOCOOKIE in both halves: sent to the kernel it would switch the identity check off.
                throw new FormatException($"Cookie {ulong.MaxValue} is the kernel's 'no cookie' value, not a socket's cookie: leave Cookie empty (Inode then identifies the socket), or list the socket again with Get-TcpConnection.");
            }

            c.Owners = Owners(pso.Properties["Owners"]?.Value);
            return c;
        }

        private static TcpSocketOwner[] Owners(object? value)
        {
            var owners = new List<TcpSocketOwner>();
            object? raw = value is PSObject p ? p.BaseObject : value;
            IEnumerable items;
            if (raw == null || (raw is string empty && empty.Length == 0))
            {
                return owners.ToArray();
            }
            else if (raw is string text)
            {
                // Export-Csv writes an array as its type name: the owners did not travel.
                if (text.EndsWith("[]", StringComparison.Ordinal))
                {
                    return owners.ToArray();
                }

                items = new object[] { text };
            }
            else
            {
                items = raw as IEnumerable ?? new[] { raw };
            }

            foreach (object? item in items)
            {
                if (item is PSObject o && o.Properties["ProcessId"]?.Value != null)
                {
                    owners.Add(new TcpSocketOwner(
                        (int)Whole(o.Properties["ProcessId"].Value, "Owners.ProcessId", 0, int.MaxValue),
                        (o.Properties["Program"] ?? o.Properties["ProcessName"])?.Value?.ToString(),
                        o.Properties["FileDescriptor"]?.Value is object fd ? (int)Whole(fd, "Owners.FileDescriptor", 0, int.MaxValue) : (int?)null));
                }
                else if (item != null && OwnerText.Match(item.ToString() ?? string.Empty) is Match m && m.Success)
                {
                    // At depth 1 remoting sends an owner as its ToString(): "pid/name (fd n)".
                    string name = m.Groups["name"].Value;
                    string where = $"Owners '{item}'";
                    owners.Add(new TcpSocketOwner(
                        (int)Whole(m.Groups["pid"].Value, where + ": the process ID", 0, int.MaxValue),
                        name == "?" ? null : name,
                        m.Groups["fd"].Success ? (int)Whole(m.Groups["fd"].Value, where + ": the descriptor", 0, int.MaxValue) : (int?)null));
                }
                else if (item != null)
                {
                    throw new FormatException($"Owners '{item}' is not an owner: give 'PID/name' or 'PID/name (fd N)' for each owner, or leave Owners empty.");
                }
            }

            return owners.ToArray();
        }

        private static IPAddress Address(PSObject pso, string name)
        {
            string? text = Text(pso, name);
            if (text == null)
            {
                throw new FormatException($"The {name} property is missing: give an IP address such as 10.0.0.5 or ::1.");
            }

            // IPAddress.TryParse also takes 10.1 and 0x0a000001; IPPrefix refuses those as the filters do.
            if (!IPPrefix.TryParse(text, out IPPrefix? prefix, out _) || text.IndexOf('/') >= 0 || !IPAddress.TryParse(text.Trim().Trim('[', ']'), out IPAddress? address))
            {
                throw new FormatException($"{name} '{text}' is not an IP address: give one such as 10.0.0.5 or ::1.");
            }

            return address;
        }

        private static string? Text(PSObject pso, string name)
        {
            object? value = pso.Properties[name]?.Value;
            string? text = value is PSObject p ? p.BaseObject?.ToString() : value?.ToString();
            return string.IsNullOrEmpty(text) ? null : text;
        }

        /// <summary>
        /// Export-Csv writes a date in the session's culture (03.11.2026 in de-DE), which an invariant
        /// parse misreads or refuses; remoting keeps it a DateTime.
        /// </summary>
        private static DateTime? Date(PSObject pso, string name)
        {
            object? value = pso.Properties[name]?.Value;
            object? raw = value is PSObject p ? p.BaseObject : value;
            switch (raw)
            {
                case null:
                    return null;
                case DateTime d:
                    return d;
                case string s when s.Length == 0:
                    return null;
                case string s when DateTime.TryParse(s, CultureInfo.CurrentCulture, DateTimeStyles.None, out DateTime local):
                    return local;
                case string s when DateTime.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out DateTime invariant):
                    return invariant;
                default:
                    throw new FormatException($"{name} '{raw}' is not a date: give one as Export-Csv wrote it (in this session's culture), or leave {name} empty.");
            }
        }

        private static T Required<T>(PSObject pso, string name, decimal min = 0, decimal max = 0)
            where T : struct =>
            Optional<T>(pso, name, min, max) ?? throw new FormatException($"The {name} property is missing: {Expected<T>(min, max)}.");

        /// <summary>Null for a missing property, $null, or an empty CSV cell.</summary>
        private static T? Optional<T>(PSObject pso, string name, decimal min = 0, decimal max = 0)
            where T : struct
        {
            object? value = pso.Properties[name]?.Value;
            object? raw = value is PSObject p ? p.BaseObject : value;
            if (raw == null || (raw is string s && s.Length == 0))
            {
                return null;
            }

            if (typeof(T) == typeof(long))
            {
                return (T)(object)(long)Whole(value!, name, min, max);
            }

            if (typeof(T) == typeof(ulong))
            {
                return (T)(object)(ulong)Whole(value!, name, min, max);
            }

            if (typeof(T) == typeof(TimeSpan))
            {
                // ConvertTo-Json writes a TimeSpan as an object of its parts; Ticks says it exactly.
                if (raw is PSCustomObject && value is PSObject parts && parts.Properties["Ticks"]?.Value is object ticks)
                {
                    return (T)(object)new TimeSpan((long)Whole(ticks, name + ".Ticks", 0, long.MaxValue));
                }

                return (T)(object)Duration(raw, name);
            }

            return (T)Enum(typeof(T), value!, name);
        }

        private static string Expected<T>(decimal min, decimal max) =>
            typeof(T).IsEnum
                ? "give one of " + Names(typeof(T))
                : typeof(T) == typeof(TimeSpan)
                    ? "give seconds (300) or hh:mm:ss (00:05:00)"
                    : string.Format(CultureInfo.InvariantCulture, "give a whole number from {0} to {1}", min, max);

        /// <summary>A whole number in [min, max], from a number or its invariant text; never a hex, float or culture form.</summary>
        private static decimal Whole(object value, string name, decimal min, decimal max)
        {
            object? raw = value is PSObject p ? p.BaseObject : value;
            bool ok = WholeNumbers.TryRead(raw, out decimal number) && number == decimal.Truncate(number);
            if (!ok)
            {
                throw new FormatException(string.Format(CultureInfo.InvariantCulture, "{0} '{1}' is not a whole number: give a whole number from {2} to {3}.", name, raw, min, max));
            }

            if (number < min || number > max)
            {
                throw new FormatException(string.Format(CultureInfo.InvariantCulture, "{0} {1} is out of range: give a whole number from {2} to {3}.", name, number, min, max));
            }

            return number;
        }

        /// <summary>An enum by its name only: a number (State 8) would be read as whatever value it happens to have.</summary>
        private static object Enum(Type type, object value, string name)
        {
            object? raw = value is PSObject p ? p.BaseObject : value;
            if (raw != null && raw.GetType() == type)
            {
                return raw;
            }

            // ConvertTo-Json writes a local object's enums as numbers (without -EnumsAsStrings): a JSON
            // number, never a string of digits (an edited CSV cell), is taken when it names a value.
            if (raw is long || raw is int)
            {
                long number = System.Convert.ToInt64(raw, CultureInfo.InvariantCulture);
                bool named = type == typeof(AddressFamily)
                    ? number == (long)AddressFamily.InterNetwork || number == (long)AddressFamily.InterNetworkV6
                    : System.Enum.IsDefined(type, System.Enum.ToObject(type, number));
                if (named)
                {
                    return System.Enum.ToObject(type, number);
                }
            }

            // A deserialized enum is a number whose ToString() is the name.
            string text = (value is PSObject wrapped ? wrapped.ToString() : raw?.ToString() ?? string.Empty).Trim();
            if (text.Length > 0 && (char.IsLetter(text[0]) || text[0] == '_') && text.IndexOf(',') < 0)
            {
                foreach (string candidate in System.Enum.GetNames(type))
                {
                    if (string.Equals(candidate, text, StringComparison.OrdinalIgnoreCase))
                    {
                        return System.Enum.Parse(type, candidate);
                    }
                }
            }

            throw new FormatException($"{name} '{text}' is not a {type.Name} name: give one of {Names(type)}.");
        }

        private static string Names(Type type) =>
            type == typeof(AddressFamily) ? "InterNetwork, InterNetworkV6" : string.Join(", ", System.Enum.GetNames(type));

        /// <summary>As the cmdlets' time parameters read it: a number is seconds, else hh:mm:ss; never negative.</summary>
        private static TimeSpan Duration(object raw, string name)
        {
            TimeSpan? span = raw switch
            {
                TimeSpan t => t,
                string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double secs) && !double.IsNaN(secs) && Math.Abs(secs) < TimeSpan.MaxValue.TotalSeconds => TimeSpan.FromSeconds(secs),
                string s when TimeSpan.TryParse(s.Trim(), CultureInfo.InvariantCulture, out TimeSpan parsed) => parsed,
                _ => null,
            };

            if (span is not TimeSpan value)
            {
                throw new FormatException($"{name} '{raw}' is not a time span: give seconds (300) or hh:mm:ss (00:05:00), or leave {name} empty.");
            }

            if (value < TimeSpan.Zero)
            {
                throw new FormatException($"{name} {value} is negative: give seconds (300) or hh:mm:ss (00:05:00), or leave {name} empty.");
            }

            return value;
        }
    }
}
