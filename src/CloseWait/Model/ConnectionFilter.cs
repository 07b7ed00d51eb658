using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Net.Sockets;

namespace CloseWait
{
    /// <summary>The filters of Get-TcpConnection, applied to one connection at a time.</summary>
    internal sealed class ConnectionFilter
    {
        public TcpState[]? States { get; set; }

        public AddressFamily? AddressFamily { get; set; }

        public HashSet<int>? LocalPorts { get; set; }

        public HashSet<int>? RemotePorts { get; set; }

        public IPPrefix[]? LocalAddresses { get; set; }

        public IPPrefix[]? RemoteAddresses { get; set; }

        public HashSet<int>? ProcessIds { get; set; }

        public WildcardPattern[]? ProcessNames { get; set; }

        public TimeSpan? MinimumIdleTime { get; set; }

        public bool FiltersByOwner => ProcessIds != null || ProcessNames != null;

        /// <summary>Everything that can be decided from the socket table alone.</summary>
        public bool MatchesSocket(TcpConnection c, bool checkIdle = true)
        {
            if (States != null && Array.IndexOf(States, c.State) < 0)
            {
                return false;
            }

            if (AddressFamily != null && c.AddressFamily != AddressFamily)
            {
                return false;
            }

            if (LocalPorts != null && !LocalPorts.Contains(c.LocalPort))
            {
                return false;
            }

            if (RemotePorts != null && !RemotePorts.Contains(c.RemotePort))
            {
                return false;
            }

            if (LocalAddresses != null && !LocalAddresses.Any(p => p.Contains(c.LocalIPAddress)))
            {
                return false;
            }

            if (RemoteAddresses != null && !RemoteAddresses.Any(p => p.Contains(c.RemoteIPAddress)))
            {
                return false;
            }

            if (checkIdle && MinimumIdleTime is TimeSpan min && !(c.IdleTime is TimeSpan idle && idle >= min))
            {
                return false;
            }

            return true;
        }

        /// <summary>The owner filters: any owner of a shared socket may match.</summary>
        public bool MatchesOwner(TcpConnection c)
        {
            if (ProcessIds != null && !c.Owners.Any(o => ProcessIds.Contains(o.ProcessId)))
            {
                return false;
            }

            if (ProcessNames != null && !c.Owners.Any(o => o.Program != null && ProcessNames.Any(p => p.IsMatch(o.Program))))
            {
                return false;
            }

            return true;
        }
    }
}
