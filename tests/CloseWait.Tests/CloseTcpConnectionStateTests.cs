using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>
    /// Close-TcpConnection acts on the socket a record names only in a state that socket can have
    /// reached since it was listed, and -Method Shutdown reports what shutdown() really did.
    /// </summary>
    [Collection("PowerShell")]
    public sealed class CloseTcpConnectionStateTests
    {
        private const string Cmdlet = ",CloseWait.Commands.CloseTcpConnectionCommand";
        private const string Roundtrip = "[System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize(@({0})[0]))";
        private readonly PowerShellFixture _ps;

        public CloseTcpConnectionStateTests(PowerShellFixture ps) => _ps = ps;

        private static Dictionary<string, object?> Vars(params (string, object?)[] pairs) => pairs.ToDictionary(p => p.Item1, p => p.Item2);

        private List<TcpConnection> On(int port, string state) =>
            _ps.Run($"Get-TcpConnection -LocalPort $port -State {state} -NoOwner", Vars(("port", port))).ThrowIfFailed().Objects<TcpConnection>();

        private static T WaitFor<T>(Func<T?> probe, string what) where T : class
        {
            var deadline = Stopwatch.StartNew();
            while (deadline.Elapsed < TimeSpan.FromSeconds(10))
            {
                if (probe() is T found)
                {
                    return found;
                }

                Thread.Sleep(10);
            }

            throw new TimeoutException($"{what} did not happen within 10 s.");
        }

        [Theory]
        [InlineData("Abort")]
        [InlineData("Shutdown")]
        public void AnEditedRecordThatSaysCloseWaitNeverClosesAListener(string method)
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback);
            var vars = Vars(("port", sockets.Port));
            var r = _ps.Run($"$x = {string.Format(Roundtrip, "Get-TcpConnection -State Listen -LocalPort $port")}; $x.State = 'CloseWait'; $x | Close-TcpConnection -Method {method} -Force -PassThru", vars);

            Assert.Equal(new[] { "ConnectionStateMismatch" + Cmdlet }, r.ErrorIds);
            Assert.Equal(System.Management.Automation.ErrorCategory.InvalidData, r.Errors[0].CategoryInfo.Category);
            Assert.Contains("is Listen", r.Errors[0].Exception.Message);
            Assert.Equal(TcpCloseStatus.Failed, Assert.Single(r.Objects<TcpCloseResult>()).Status);
            Assert.Single(On(sockets.Port, "Listen"));
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            probe.Connect(sockets.ListenerEndPoint); // still accepting
        }

        [Fact]
        public void AnEstablishedSocketEditedToCloseWaitIsLeftOpen()
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(4);
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            client.Connect(listener.LocalEndPoint!);
            using var server = listener.Accept();
            var vars = Vars(("port", ((IPEndPoint)listener.LocalEndPoint!).Port));
            var r = _ps.Run($"$x = {string.Format(Roundtrip, "Get-TcpConnection -State Established -LocalPort $port")}; $x.State = 'CloseWait'; $x | Close-TcpConnection -Force", vars);
            Assert.Equal(new[] { "ConnectionStateMismatch" + Cmdlet }, r.ErrorIds);
            server.Send(new byte[] { 1 });
            Assert.Equal(1, client.Receive(new byte[1]));
        }

        [Fact]
        public void AStateTheSocketCanHaveReachedSinceListingIsStillClosed()
        {
            // Listed Established, the peer has since closed: CloseWait follows Established.
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(4);
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            client.Connect(listener.LocalEndPoint!);
            using var server = listener.Accept();
            int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
            var listed = Assert.Single(On(port, "Established"));
            client.Close();
            WaitFor(() => On(port, "CloseWait").FirstOrDefault(), "CLOSE_WAIT");
            var r = _ps.Run("$x | Close-TcpConnection -Force -PassThru", Vars(("x", listed))).ThrowIfFailed();
            Assert.Equal(TcpCloseStatus.Closed, Assert.Single(r.Objects<TcpCloseResult>()).Status);
        }

        [Fact]
        public void ShutdownOfAReusedFourTupleSaysReplacedAndWarnsLikeAbort()
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(4);
            var serverEnd = (IPEndPoint)listener.LocalEndPoint!;
            var first = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            first.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            first.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            int clientPort = ((IPEndPoint)first.LocalEndPoint!).Port;
            first.Connect(serverEnd);
            var firstServer = listener.Accept();
            var vars = Vars(("port", serverEnd.Port), ("cport", clientPort));
            var old = Assert.Single(_ps.Run("Get-TcpConnection -LocalPort $port -RemotePort $cport", vars).ThrowIfFailed().Objects<TcpConnection>());

            first.LingerState = new LingerOption(true, 0);
            first.Close();
            firstServer.Close();
            using var second = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            second.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            second.Bind(new IPEndPoint(IPAddress.Loopback, clientPort));
            second.Connect(serverEnd);
            using var secondServer = listener.Accept();

            vars["stale"] = old;
            var r = _ps.Run("$stale | Close-TcpConnection -Method Shutdown -Force -PassThru", vars).ThrowIfFailed();
            Assert.Equal(TcpCloseStatus.Replaced, Assert.Single(r.Objects<TcpCloseResult>()).Status);
            Assert.Single(r.Warnings, w => w.Contains("left open"));

            // Also as from /proc/net/tcp: no cookie, only the inode.
            var byInode = _ps.Run($"$x = {string.Format(Roundtrip, "$stale")}; $x.Cookie = $null; $x | Close-TcpConnection -Method Shutdown -Force -PassThru", vars).ThrowIfFailed();
            Assert.Equal(TcpCloseStatus.Replaced, Assert.Single(byInode.Objects<TcpCloseResult>()).Status);

            second.Send(new byte[] { 7 });
            Assert.Equal(1, secondServer.Receive(new byte[1]));
        }

        /// <summary>
        /// An accepted socket listed without a cookie (as from /proc/net/tcp) that has since closed:
        /// a lookup on its addresses now finds the listener it came from, which is not a new socket
        /// on those addresses, so Abort says AlreadyGone as the cookie path and Shutdown do.
        /// </summary>
        [Fact]
        public void AbortOfAnInodeOnlyAcceptedSocketWhoseListenerRemainsSaysAlreadyGone()
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(4);
            var serverEnd = (IPEndPoint)listener.LocalEndPoint!;
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            client.Connect(serverEnd);
            var accepted = listener.Accept();
            int clientPort = ((IPEndPoint)client.LocalEndPoint!).Port;
            var vars = Vars(("port", serverEnd.Port), ("cport", clientPort));
            var listed = Assert.Single(_ps.Run("Get-TcpConnection -State Established -LocalPort $port -RemotePort $cport", vars).ThrowIfFailed().Objects<TcpConnection>());

            client.LingerState = new LingerOption(true, 0);
            client.Close();
            accepted.Close();
            vars["stale"] = listed;
            var r = _ps.Run($"$x = {string.Format(Roundtrip, "$stale")}; $x.Cookie = $null; $x | Close-TcpConnection -Method Abort -Force -PassThru", vars).ThrowIfFailed();
            Assert.Equal(TcpCloseStatus.AlreadyGone, Assert.Single(r.Objects<TcpCloseResult>()).Status);
            Assert.Empty(r.Warnings);
        }

        [Fact]
        public void ShutdownOfAnInodeOnlyRecordWhoseSocketIsGoneSaysAlreadyGoneNotRunAsRoot()
        {
            var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback);
            int port = sockets.Port;
            var vars = Vars(("port", port));
            _ps.Run($"$script:gone = {string.Format(Roundtrip, "Get-TcpCloseWait -LocalPort $port")}; $script:gone.Cookie = $null", vars).ThrowIfFailed();
            sockets.Dispose();
            WaitFor(() => On(port, "CloseWait").Count == 0 ? "gone" : null, "the socket to leave CLOSE_WAIT");

            var r = _ps.Run("$gone | Close-TcpConnection -Method Shutdown -Force -PassThru", vars).ThrowIfFailed();
            Assert.Equal(TcpCloseStatus.AlreadyGone, Assert.Single(r.Objects<TcpCloseResult>()).Status);
        }

        [Fact]
        public void ShutdownOfAFinWait2SocketSaysNothingWasSent()
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(4);
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            client.Connect(listener.LocalEndPoint!);
            using var server = listener.Accept();
            client.Shutdown(SocketShutdown.Send); // FIN_WAIT2 with its descriptor kept
            int clientPort = ((IPEndPoint)client.LocalEndPoint!).Port;
            WaitFor(() => On(clientPort, "FinWait2").FirstOrDefault(), "FIN_WAIT2");

            var r = _ps.Run("Get-TcpConnection -LocalPort $cport -State FinWait2 | Close-TcpConnection -State FinWait2 -Method Shutdown -Force -PassThru", Vars(("cport", clientPort))).ThrowIfFailed();
            var x = Assert.Single(r.Objects<TcpCloseResult>());
            Assert.DoesNotContain("the peer got a FIN", x.Detail);
            Assert.Contains("FIN had already been sent (FinWait2), so nothing was sent now", x.Detail);
            Assert.Equal(TcpState.FinWait2, x.RemainingState);
            Assert.Equal(0, client.Receive(new byte[1])); // the receive side was shut: end of file
        }

        [Fact]
        public void ShutdownOfAListenerSaysItStoppedListening()
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback);
            var r = _ps.Run("Close-TcpConnection -State Listen -LocalPort $port -Method Shutdown -Force -PassThru", Vars(("port", sockets.Port))).ThrowIfFailed();
            var x = Assert.Single(r.Objects<TcpCloseResult>());
            Assert.Equal(TcpCloseStatus.Closed, x.Status);
            Assert.DoesNotContain("FIN", x.Detail);
            Assert.Contains("stopped listening", x.Detail);
            Assert.Empty(On(sockets.Port, "Listen"));
        }

        [Fact]
        public void ShutdownOfAConnectingSocketSaysTheAttemptWasAbandoned()
        {
            // A listener with a full accept queue drops further SYNs: the next client stays in SYN_SENT.
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(0);
            var end = (IPEndPoint)listener.LocalEndPoint!;
            var queued = new List<Socket>();
            Socket? connecting = null;
            try
            {
                int synSentPort = 0;
                for (int i = 0; i < 4 && synSentPort == 0; i++)
                {
                    var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { Blocking = false };
                    s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                    try
                    {
                        s.Connect(end);
                    }
                    catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock || e.SocketErrorCode == SocketError.InProgress)
                    {
                    }

                    int port = ((IPEndPoint)s.LocalEndPoint!).Port;
                    var state = WaitFor(() => _ps.Run("Get-TcpConnection -LocalPort $p -NoOwner", Vars(("p", port))).ThrowIfFailed().Objects<TcpConnection>()
                        .Select(c => c.State.ToString()).FirstOrDefault(), "the connect");
                    if (state == "SynSent")
                    {
                        connecting = s;
                        synSentPort = port;
                    }
                    else
                    {
                        queued.Add(s);
                    }
                }

                Assert.NotEqual(0, synSentPort);
                var r = _ps.Run("Close-TcpConnection -State SynSent -LocalPort $p -Method Shutdown -Force -PassThru", Vars(("p", synSentPort))).ThrowIfFailed();
                var x = Assert.Single(r.Objects<TcpCloseResult>());
                Assert.DoesNotContain("FIN", x.Detail);
                Assert.Contains("connection attempt was abandoned", x.Detail);
            }
            finally
            {
                connecting?.Dispose();
                queued.ForEach(s => s.Dispose());
            }
        }

        [Theory]
        [InlineData(TcpState.Established, TcpState.CloseWait, true)]
        [InlineData(TcpState.Established, TcpState.FinWait2, true)]
        [InlineData(TcpState.CloseWait, TcpState.LastAck, true)]
        [InlineData(TcpState.CloseWait, TcpState.CloseWait, true)]
        [InlineData(TcpState.FinWait1, TcpState.TimeWait, true)]
        [InlineData(TcpState.SynSent, TcpState.Established, true)]
        [InlineData(TcpState.SynReceived, TcpState.CloseWait, true)]
        [InlineData(TcpState.CloseWait, TcpState.Listen, false)]
        [InlineData(TcpState.Established, TcpState.Listen, false)]
        [InlineData(TcpState.CloseWait, TcpState.Established, false)]
        [InlineData(TcpState.Listen, TcpState.Established, false)]
        [InlineData(TcpState.TimeWait, TcpState.Established, false)]
        [InlineData(TcpState.FinWait2, TcpState.CloseWait, false)]
        public void StatesFollowRfc793(TcpState listed, TcpState now, bool possible)
        {
            Assert.Equal(possible, TcpStateProgress.CanHaveBecome(listed, now));
        }
    }
}
