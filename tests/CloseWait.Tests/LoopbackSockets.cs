using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Threading;

namespace CloseWait.Tests
{
    /// <summary>
    /// Real loopback connections in known states. CLOSE_WAIT: a server accepts and never closes,
    /// the client sends a few bytes and closes, so the accepted socket (held by this test process)
    /// sits in CLOSE_WAIT with those bytes unread.
    /// </summary>
    public sealed class LoopbackSockets : IDisposable
    {
        private readonly List<Socket> _held = new List<Socket>();

        public Socket Listener { get; private set; } = null!;

        public IPEndPoint ListenerEndPoint => (IPEndPoint)Listener.LocalEndPoint!;

        public static LoopbackSockets CloseWait(IPAddress loopback, int count = 1, int bytes = 5)
        {
            var s = new LoopbackSockets();
            s.Listener = new Socket(loopback.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            s._held.Add(s.Listener);
            s.Listener.Bind(new IPEndPoint(loopback, 0));
            s.Listener.Listen(count + 8);
            for (int i = 0; i < count; i++)
            {
                using var client = new Socket(loopback.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                client.Connect(s.ListenerEndPoint);
                if (bytes > 0)
                {
                    client.Send(new byte[bytes]);
                }

                var server = s.Listener.Accept();
                s._held.Add(server);
                s.ServerSockets.Add(server);
                s.ClientPorts.Add(((IPEndPoint)client.LocalEndPoint!).Port);
                client.Close();
            }

            // Wait until each accepted socket has taken its peer's FIN, and each client's FIN has been
            // acknowledged (FIN_WAIT1 lasts until the server's delayed ACK, up to about 40 ms).
            foreach (var server in s.ServerSockets)
            {
                WaitForState(server, LinuxCloseWait);
            }

            WaitForClientsPastFinWait1(s.ClientPorts, s.Port);
            return s;
        }

        /// <summary>
        /// Polls this thread's network namespace's /proc/net/tcp{,6} (the thread's: a factory may run
        /// on a thread inside another namespace) until every client end is in FIN_WAIT2 (5) or
        /// TIME_WAIT (6). Off Linux there is no such file and nothing to wait for.
        /// </summary>
        internal static void WaitForClientsPastFinWait1(IReadOnlyCollection<int> clientPorts, int serverPort)
        {
            if (!OperatingSystem.IsLinux() || clientPorts.Count == 0)
            {
                return;
            }

            Wait.Until(() =>
            {
                var done = new HashSet<int>();
                foreach (string file in new[] { "/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6" })
                {
                    foreach (string line in System.IO.File.ReadLines(file))
                    {
                        // "  0: 0100007F:A1B2 0100007F:1F90 05 ..." (sl, local, remote, st, ...)
                        string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                        if (f.Length < 4 || f[0] == "sl")
                        {
                            continue;
                        }

                        int local = Convert.ToInt32(f[1].Substring(f[1].LastIndexOf(':') + 1), 16);
                        int remote = Convert.ToInt32(f[2].Substring(f[2].LastIndexOf(':') + 1), 16);
                        if (remote == serverPort && (f[3] == "05" || f[3] == "06"))
                        {
                            done.Add(local);
                        }
                    }
                }

                foreach (int port in clientPorts)
                {
                    if (!done.Contains(port))
                    {
                        return false;
                    }
                }

                return true;
            }, $"the clients of port {serverPort} to leave FIN_WAIT1");
        }

        /// <summary>TCP_CLOSE_WAIT in include/net/tcp_states.h.</summary>
        internal const byte LinuxCloseWait = 8;

        /// <summary>
        /// Polls the socket's own kernel state (getsockopt TCP_INFO: tcpi_state is its first byte)
        /// until it is <paramref name="state"/>. Works in any network namespace; off Linux it waits
        /// for the socket to turn readable, which the FIN does too.
        /// </summary>
        internal static void WaitForState(Socket socket, byte state, int timeoutMs = 30000)
        {
            Wait.Until(() =>
            {
                if (!OperatingSystem.IsLinux())
                {
                    return socket.Poll(0, SelectMode.SelectRead);
                }

                Span<byte> info = stackalloc byte[8];
                socket.GetRawSocketOption(6 /* IPPROTO_TCP */, 11 /* TCP_INFO */, info);
                return info[0] == state;
            }, $"socket {socket.LocalEndPoint} -> {socket.RemoteEndPoint} to reach TCP state {state}", timeoutMs);
        }

        /// <summary>Accepted sockets now in CLOSE_WAIT, in creation order.</summary>
        public List<Socket> ServerSockets { get; } = new List<Socket>();

        /// <summary>The closed clients' ports: the CLOSE_WAIT sockets' remote ports.</summary>
        public List<int> ClientPorts { get; } = new List<int>();

        public int Port => ListenerEndPoint.Port;

        public void Dispose()
        {
            foreach (var s in _held)
            {
                s.Dispose();
            }
        }
    }

    /// <summary>Condition waits: poll with a deadline, never a fixed sleep.</summary>
    internal static class Wait
    {
        internal static void Until(Func<bool> condition, string what, int timeoutMs = 30000)
        {
            var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
            while (!condition())
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"Waited {timeoutMs} ms for {what}.");
                }

                Thread.Sleep(2);
            }
        }
    }
}
