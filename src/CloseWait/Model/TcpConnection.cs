using System;
using System.Net;
using System.Net.Sockets;

namespace CloseWait
{
    /// <summary>
    /// One TCP socket as the operating system's socket table reports it. Values the platform
    /// cannot give are null ($null in PowerShell), never made up.
    /// </summary>
    public sealed class TcpConnection : ILocated
    {
        private static readonly TcpSocketOwner[] NoOwners = new TcpSocketOwner[0];

        public TcpConnection()
        {
        }

        /// <summary>The identity every back end reads from its table: addresses, ports, state, where it came from.</summary>
        internal TcpConnection(AddressFamily family, IPAddress local, int localPort, IPAddress remote, int remotePort, TcpState state, int nativeState, string source)
        {
            AddressFamily = family;
            LocalIPAddress = local;
            RemoteIPAddress = remote;
            LocalAddress = local.ToString();
            RemoteAddress = remote.ToString();
            LocalPort = localPort;
            RemotePort = remotePort;
            State = state;
            NativeState = nativeState;
            Source = source;
        }

        public AddressFamily AddressFamily { get; internal set; }

        /// <summary>Textual address, IPv6 with its zone (%ifindex) where the kernel gives one.</summary>
        public string LocalAddress { get; internal set; } = string.Empty;

        public int LocalPort { get; internal set; }

        public string RemoteAddress { get; internal set; } = string.Empty;

        public int RemotePort { get; internal set; }

        public TcpState State { get; internal set; }

        /// <summary>Bytes received and not yet read by the owner; for a listener, connections waiting in the accept queue.</summary>
        public long? ReceiveQueue { get; internal set; }

        /// <summary>
        /// CLOSE_WAIT on Linux: true when the owner has read the end of the stream (the peer's FIN)
        /// and still not closed, false while the FIN waits unread in the receive queue. Null in other
        /// states and where the table does not tell (Windows, macOS).
        /// </summary>
        public bool? EndOfStreamRead { get; internal set; }

        /// <summary>Bytes sent and not yet acknowledged; for a listener, the accept backlog.</summary>
        public long? SendQueue { get; internal set; }

        /// <summary>The owning process (the lowest PID when the socket is shared after fork).</summary>
        public int? ProcessId { get; internal set; }

        /// <summary>
        /// The owner for Stop-Process and Get-Process, which bind -Id from a property named Id: it
        /// converts to ProcessId only while this session's listing of that process holds; its text
        /// ("1234@host", never blank) converts to nothing after a round trip. Use ProcessId for numbers.
        /// </summary>
        public ProcessReference Id =>
            Owners.Length == 0 && TableOwner != null && TableOwner.ProcessId == ProcessId
                ? TableOwner
                : ProcessReference.Of(ProcessId, Owners, ComputerName);

        /// <summary>The owning PID as a live table gave it (Windows), for Id when -NoOwner skipped the names.</summary>
        internal ProcessReference? TableOwner { get; set; }

        /// <summary>The owner's name (Linux comm). Not ProcessName: Stop-Process would bind -Name from it and stop every process of that name.</summary>
        public string? Program { get; internal set; }

        /// <summary>Every process holding the socket (a child that inherited it after fork is a classic CLOSE_WAIT cause).</summary>
        public TcpSocketOwner[] Owners { get; internal set; } = NoOwners;

        /// <summary>The socket's owning user id (Linux); null elsewhere.</summary>
        public long? UserId { get; internal set; }

        /// <summary>
        /// Time since the peer last sent anything: data, ACK or FIN (Linux: the smaller of tcp_info
        /// last_data_recv and last_ack_recv). For a CLOSE_WAIT socket, the time since the peer's
        /// FIN: how long it has been stuck.
        /// </summary>
        public TimeSpan? IdleTime { get; internal set; }

        /// <summary>
        /// Time since the peer last sent data (Linux tcp_info last_data_recv); a FIN or an ACK
        /// carries none. DataIdleTime minus IdleTime is how long the connection sat idle before
        /// the peer closed it: a load balancer's idle timeout shows there.
        /// </summary>
        public TimeSpan? DataIdleTime { get; internal set; }

        /// <summary>True when the socket's keepalive timer is the one running (Linux idiag_timer).</summary>
        public bool? KeepAliveTimer { get; internal set; }

        /// <summary>When the running timer (retransmit, keepalive, TIME_WAIT...) fires next.</summary>
        public TimeSpan? TimerExpiresIn { get; internal set; }

        /// <summary>Linux socket inode: what /proc/&lt;pid&gt;/fd links point to.</summary>
        public ulong? Inode { get; internal set; }

        /// <summary>Linux socket cookie: the kernel's unique identity of this socket, never reused while it lives.</summary>
        public ulong? Cookie { get; internal set; }

        /// <summary>Interface index the socket is bound to (0 for none); null where not given.</summary>
        public int? InterfaceIndex { get; internal set; }

        /// <summary>When the connection was created (Windows); null elsewhere.</summary>
        public DateTime? CreationTime { get; internal set; }

        /// <summary>
        /// The network namespace the socket lives in, as -NetworkNamespace accepts it back: what was
        /// given to -NetworkNamespace, or with -AllNetworkNamespaces its `ip netns` name or the PID of
        /// a process in it; null for the caller's own namespace.
        /// </summary>
        public string? NetworkNamespace { get; internal set; }

        /// <summary>Linux: the inode of that network namespace (as in /proc/&lt;pid&gt;/ns/net, `lsns -t net`); null elsewhere.</summary>
        public ulong? NetworkNamespaceId { get; internal set; }

        /// <summary>The namespace's name under /run/netns (`ip netns`), null when it has none.</summary>
        public string? NetworkNamespaceName { get; internal set; }

        /// <summary>The id of the container the owner runs in (64 hex digits), null when none or not known.</summary>
        public string? ContainerId { get; internal set; }

        /// <summary>The container's name where the node's files give it (docker, podman); null otherwise.</summary>
        public string? ContainerName { get; internal set; }

        /// <summary>docker, podman, containerd or cri-o; null when not known.</summary>
        public string? ContainerRuntime { get; internal set; }

        /// <summary>Kubernetes: the namespace of the owner's pod, from the kubelet's files on the node.</summary>
        public string? PodNamespace { get; internal set; }

        /// <summary>Kubernetes: the name of the owner's pod.</summary>
        public string? PodName { get; internal set; }

        /// <summary>Kubernetes: the UID of the owner's pod, from its cgroup.</summary>
        public string? PodUid { get; internal set; }

        /// <summary>The host name of the machine that listed it.</summary>
        public string? ComputerName { get; internal set; }

        /// <summary>
        /// The machine and boot whose kernel numbered Cookie (Linux boot_id; Windows machine GUID and
        /// boot time); Close-TcpConnection refuses a connection listed on another machine or boot.
        /// </summary>
        public string? BootId { get; internal set; }

        /// <summary>Which table this came from: Netlink, ProcNet, GetExtendedTcpTable, Sysctl.</summary>
        public string Source { get; internal set; } = string.Empty;

        /// <summary>The name the caller reached its host by (PSComputerName after remoting), for advice.</summary>
        internal string? ReachedAs { get; set; }

        /// <summary>The namespace a scan of every namespace read it in; null when read in the query's own.</summary>
        internal NamespaceIdentity? ListedIn { get; set; }

        void ILocated.SetLocation(NamespaceIdentity where)
        {
            NetworkNamespace = where.Spec;
            NetworkNamespaceId = where.Inode;
            NetworkNamespaceName = where.Name;
            ComputerName = where.ComputerName;
            BootId = where.BootId;
        }

        internal IPAddress LocalIPAddress { get; set; } = IPAddress.None;

        internal IPAddress RemoteIPAddress { get; set; } = IPAddress.None;

        /// <summary>The platform's own state number (Linux tcp_states.h, MIB_TCP_STATE, xnu tcp_fsm.h), for diagnosing a mapping.</summary>
        internal int NativeState { get; set; }

        public override string ToString() =>
            $"{FormatEndpoint(LocalAddress, LocalPort)} {FormatEndpoint(RemoteAddress, RemotePort)} {State}";

        /// <summary>"local -> remote", as closers and prompts name a connection.</summary>
        internal string DescribeEndpoints() =>
            $"{FormatEndpoint(LocalAddress, LocalPort)} -> {FormatEndpoint(RemoteAddress, RemotePort)}";

        internal static string FormatEndpoint(string address, int port) =>
            address.IndexOf(':') >= 0 ? $"[{address}]:{port}" : $"{address}:{port}";
    }
}
