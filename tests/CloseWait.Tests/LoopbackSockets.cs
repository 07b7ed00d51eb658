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

            // Wait until each accepted socket has taken its peer's FIN (bounded).
            foreach (var server in s.ServerSockets)
            {
                WaitForState(server, LinuxCloseWait);
            }

            return s;
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
