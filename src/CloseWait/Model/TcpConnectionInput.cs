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

        /// <summary>Throws <see cref="FormatException"/> naming the property that is missing or malformed.</summary>
        internal static TcpConnection FromRecord(PSObject pso)
        {
            var local = Address(pso, "LocalAddress");
            var remote = Address(pso, "RemoteAddress");
            var family = Required<AddressFamily>(pso, "AddressFamily");
            if (family != local.AddressFamily || family != remote.AddressFamily)
            {
                throw new FormatException($"AddressFamily {family} does not match the addresses {local} and {remote}.");
            }

            int localPort = Port(pso, "LocalPort");
            int remotePort = Port(pso, "RemotePort");
            var state = Required<TcpState>(pso, "State");

            // NativeState is not public, so it does not travel.
            var c = new TcpConnection(family, local, localPort, remote, remotePort, state, 0, Text(pso, "Source") ?? string.Empty)
            {
                ReceiveQueue = Optional<long>(pso, "ReceiveQueue"),
                SendQueue = Optional<long>(pso, "SendQueue"),
                ProcessId = Optional<int>(pso, "ProcessId"),
                ProcessName = Text(pso, "ProcessName"),
                UserId = Optional<long>(pso, "UserId"),
                IdleTime = Optional<TimeSpan>(pso, "IdleTime"),
                Inode = Optional<ulong>(pso, "Inode"),
                Cookie = Optional<ulong>(pso, "Cookie"),
                InterfaceIndex = Optional<int>(pso, "InterfaceIndex"),
                CreationTime = Date(pso, "CreationTime"),
                NetworkNamespace = Text(pso, "NetworkNamespace"),
                NetworkNamespaceId = Optional<ulong>(pso, "NetworkNamespaceId"),
                NetworkNamespaceName = Text(pso, "NetworkNamespaceName"),
                ContainerId = Text(pso, "ContainerId"),
                ContainerName = Text(pso, "ContainerName"),
                ContainerRuntime = Text(pso, "ContainerRuntime"),
                PodNamespace = Text(pso, "PodNamespace"),
                PodName = Text(pso, "PodName"),
                PodUid = Text(pso, "PodUid"),
            };
            c.Owners = Owners(pso.Properties["Owners"]?.Value);
            return c;
        }

        private static TcpSocketOwner[] Owners(object? value)
        {
            var owners = new List<TcpSocketOwner>();
            object? raw = value is PSObject p ? p.BaseObject : value;
            if (raw is string || !(raw is IEnumerable items))
            {
                return owners.ToArray();
            }

            foreach (object? item in items)
            {
                if (item is PSObject o && o.Properties["ProcessId"]?.Value != null)
                {
                    owners.Add(new TcpSocketOwner(
                        Convert<int>(o.Properties["ProcessId"].Value, "Owners.ProcessId"),
                        o.Properties["ProcessName"]?.Value?.ToString(),
                        o.Properties["FileDescriptor"]?.Value is object fd ? Convert<int>(fd, "Owners.FileDescriptor") : (int?)null));
                }
                else if (item != null && OwnerText.Match(item.ToString() ?? string.Empty) is Match m && m.Success)
                {
                    // At depth 1 remoting sends an owner as its ToString(): "pid/name (fd n)".
                    string name = m.Groups["name"].Value;
                    owners.Add(new TcpSocketOwner(
                        int.Parse(m.Groups["pid"].Value, CultureInfo.InvariantCulture),
                        name == "?" ? null : name,
                        m.Groups["fd"].Success ? int.Parse(m.Groups["fd"].Value, CultureInfo.InvariantCulture) : (int?)null));
                }
            }

            return owners.ToArray();
        }

        private static IPAddress Address(PSObject pso, string name)
        {
            string? text = Text(pso, name);
            if (text == null || !IPAddress.TryParse(text, out IPAddress? address))
            {
                throw new FormatException($"{name} '{text}' is not an IP address.");
            }

            return address;
        }

        private static int Port(PSObject pso, string name)
        {
            int port = Required<int>(pso, name);
            if (port < 0 || port > 65535)
            {
                throw new FormatException($"{name} {port} is not a TCP port.");
            }

            return port;
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
            string? text = pso.Properties[name]?.Value is PSObject p ? p.BaseObject as string : pso.Properties[name]?.Value as string;
            if (!string.IsNullOrEmpty(text) && DateTime.TryParse(text, CultureInfo.CurrentCulture, DateTimeStyles.None, out DateTime local))
            {
                return local;
            }

            return Optional<DateTime>(pso, name);
        }

        private static T Required<T>(PSObject pso, string name)
            where T : struct =>
            Optional<T>(pso, name) ?? throw new FormatException($"The {name} property is missing.");

        /// <summary>Null for a missing property, $null, or an empty CSV cell.</summary>
        private static T? Optional<T>(PSObject pso, string name)
            where T : struct
        {
            object? value = pso.Properties[name]?.Value;
            if (value == null || (value is string s && s.Length == 0) || (value is PSObject p && p.BaseObject is string ps && ps.Length == 0))
            {
                return null;
            }

            return Convert<T>(value, name);
        }

        private static T Convert<T>(object value, string name)
        {
            try
            {
                return LanguagePrimitives.ConvertTo<T>(value);
            }
            catch (PSInvalidCastException e)
            {
                throw new FormatException($"{name} '{value}' is not a {typeof(T).Name}: {e.Message}", e);
            }
        }
    }
}
