using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Threading;

namespace CloseWait.WindowsSmoke
{
    /// <summary>
    /// The Linux side: holds one CLOSE_WAIT socket per loopback family (a server accepts and never
    /// closes; the client sends 5 bytes and closes), prints the ports, and waits a bounded time.
    /// </summary>
    internal static class Holder
    {
        internal static int Run(int seconds)
        {
            var held = new List<Socket>();
            try
            {
                foreach (var (name, loopback) in new[] { ("v4", IPAddress.Loopback), ("v6", IPAddress.IPv6Loopback) })
                {
                    var listener = new Socket(loopback.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                    held.Add(listener);
                    listener.Bind(new IPEndPoint(loopback, 0));
                    listener.Listen(4);
                    int listenPort = ((IPEndPoint)listener.LocalEndPoint!).Port;
                    using (var client = new Socket(loopback.AddressFamily, SocketType.Stream, ProtocolType.Tcp))
                    {
                        client.Connect(new IPEndPoint(loopback, listenPort));
                        client.Send(new byte[5]);
                        held.Add(listener.Accept());
                        int clientPort = ((IPEndPoint)client.LocalEndPoint!).Port;
                        client.Close();
                        Console.WriteLine($"HOLD {name} {listenPort} {clientPort}");
                    }
                }

                Thread.Sleep(100); // let the FINs land
                Console.WriteLine("READY");
                Console.Out.Flush();

                // Bounded: the script that started the holder stops it by PID when done.
                Thread.Sleep(TimeSpan.FromSeconds(seconds));
                return 0;
            }
            finally
            {
                foreach (var s in held)
                {
                    s.Dispose();
                }
            }
        }
    }
}
