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

            // Let the FINs land: bounded wait.
            Thread.Sleep(50);
            return s;
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
}
