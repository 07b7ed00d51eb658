using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>Close-TcpConnection against real loopback sockets, through the real engine.</summary>
    [Collection("PowerShell")]
    public sealed class CloseTcpConnectionTests
    {
        private const string Cmdlet = ",CloseWait.Commands.CloseTcpConnectionCommand";

        private readonly PowerShellFixture _ps;

        public CloseTcpConnectionTests(PowerShellFixture ps) => _ps = ps;

        private static Dictionary<string, object?> Vars(params (string, object?)[] pairs) => pairs.ToDictionary(p => p.Item1, p => p.Item2);

        private List<TcpConnection> CloseWaitOn(int port, string extra = "") =>
            _ps.Run($"Get-TcpCloseWait -LocalPort $port {extra}", Vars(("port", port))).ThrowIfFailed().Objects<TcpConnection>();

        private List<TcpConnection> AllOn(int port) =>
            _ps.Run("Get-TcpConnection -LocalPort $port -NoOwner", Vars(("port", port))).ThrowIfFailed().Objects<TcpConnection>();

        [LinuxTheory(Root = true)]
        [InlineData("127.0.0.1")]
        [InlineData("::1")]
        public void AbortClosesCloseWaitSocketAndItsOwnerSeesAnError(string loopback)
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Parse(loopback), count: 2, bytes: 5);
            var r = _ps.Run("Get-TcpCloseWait -LocalPort $port | Close-TcpConnection -Confirm:$false -PassThru", Vars(("port", sockets.Port))).ThrowIfFailed();

            var results = r.Objects<TcpCloseResult>();
            Assert.Equal(2, results.Count);
            Assert.All(results, x =>
            {
                Assert.Equal(TcpCloseStatus.Closed, x.Status);
                Assert.True(x.Closed);
                Assert.Equal(TcpCloseMethod.Abort, x.Method);
                Assert.Null(x.RemainingState);
                Assert.Equal(TcpState.CloseWait, x.State);
                Assert.Equal(Environment.ProcessId, x.ProcessId);
                Assert.Contains("SOCK_DESTROY", x.Detail);
            });
            Assert.Equal(sockets.ClientPorts.OrderBy(p => p), results.Select(x => x.RemotePort).OrderBy(p => p));

            // Gone from the table: only the listener is left on the port.
            Assert.Empty(CloseWaitOn(sockets.Port));
            Assert.Equal(TcpState.Listen, Assert.Single(AllOn(sockets.Port)).State);

            // The owner (this process) lives on and holds a descriptor to a dead socket: the unread
            // bytes, then end of file, and its next write fails with the abort.
            foreach (var server in sockets.ServerSockets)
            {
                var buf = new byte[16];
                Assert.Equal(5, server.Receive(buf));
                Assert.Equal(0, server.Receive(buf));
                var e = Assert.Throws<SocketException>(() => server.Send(new byte[] { 1 }));
                Assert.Equal(SocketError.ConnectionAborted, e.SocketErrorCode);
            }
        }

        [LinuxFact(Root = true)]
        public void ClosesIPv4MappedSocketOfADualStackListener()
        {
            var mapped = IPAddress.Parse("::ffff:127.0.0.1");
            using var listener = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp) { DualMode = true };
            listener.Bind(new IPEndPoint(mapped, 0));
            listener.Listen(4);
            int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
            Socket server;
            using (var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
            {
                client.Connect(new IPEndPoint(IPAddress.Loopback, port));
                server = listener.Accept();
                client.Close();
            }

            using (server)
            {
                LoopbackSockets.WaitForState(server, LoopbackSockets.LinuxCloseWait);
                var listed = Assert.Single(CloseWaitOn(port));
                Assert.Equal(AddressFamily.InterNetworkV6, listed.AddressFamily);
                Assert.Equal("::ffff:127.0.0.1", listed.LocalAddress);

                var r = _ps.Run("Get-TcpCloseWait -LocalPort $port | Close-TcpConnection -Force -PassThru", Vars(("port", port))).ThrowIfFailed();
                Assert.Equal(TcpCloseStatus.Closed, Assert.Single(r.Objects<TcpCloseResult>()).Status);
                Assert.Empty(CloseWaitOn(port));
                Assert.Throws<SocketException>(() => server.Send(new byte[] { 1 }));
            }
        }

        [Theory]
        [InlineData("Abort")]
        [InlineData("Shutdown")]
        public void PipelineEmptiesTheCloseWaitListOfAnotherProcessThatKeepsRunning(string method)
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback, count: 3, bytes: 2);
            Process child;
            foreach (var s in sockets.ServerSockets)
            {
                TestNative.SetInheritable(s.SafeHandle, true);
            }

            try
            {
                child = Process.Start(new ProcessStartInfo("sleep", "3600") { UseShellExecute = false })!;
            }
            finally
            {
                foreach (var s in sockets.ServerSockets)
                {
                    TestNative.SetInheritable(s.SafeHandle, false);
                }
            }

            try
            {
                // The child alone holds them now.
                foreach (var s in sockets.ServerSockets)
                {
                    s.Close();
                }

                var vars = Vars(("child", child.Id), ("method", method));
                var before = _ps.Run("Get-TcpCloseWait -ProcessId $child", vars).ThrowIfFailed().Objects<TcpConnection>();
                Assert.Equal(3, before.Count);
                Assert.All(before, c => Assert.Equal(child.Id, c.ProcessId));

                var r = _ps.Run("Get-TcpCloseWait -ProcessId $child | Close-TcpConnection -Confirm:$false -Method $method -PassThru", vars).ThrowIfFailed();
                var results = r.Objects<TcpCloseResult>();
                Assert.Equal(3, results.Count);
                Assert.All(results, x => Assert.Equal(TcpCloseStatus.Closed, x.Status));
                Assert.All(results, x => Assert.Equal(Enum.Parse<TcpCloseMethod>(method), x.Method));
                if (method == "Shutdown")
                {
                    // Through the child's own descriptors, each named by pid/fd.
                    Assert.All(results, x => Assert.Matches($"^{child.Id}/\\d+$", x.Via!));
                    Assert.All(results, x => Assert.Contains("FIN", x.Detail));
                }

                Assert.Empty(_ps.Run("Get-TcpCloseWait -ProcessId $child", vars).ThrowIfFailed().Output);
                Assert.Empty(CloseWaitOn(sockets.Port));
                Assert.False(child.HasExited);

                // The child still holds its descriptors: the sockets are closed, not the files.
                var links = Directory.GetFiles($"/proc/{child.Id}/fd").Select(f => new FileInfo(f).LinkTarget).Count(t => t != null && t.StartsWith("socket:["));
                Assert.True(links >= 3, $"the child holds {links} socket descriptors");
            }
            finally
            {
                child.Kill();
                child.WaitForExit(5000);
            }
        }

        [LinuxFact(Root = true)]
        public void ShutdownSendsAFinAndTheOwnerReadsItsDataThenEndOfFile()
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback, bytes: 4);
            var r = _ps.Run("Get-TcpCloseWait -LocalPort $port | Close-TcpConnection -Method Shutdown -Force -PassThru", Vars(("port", sockets.Port))).ThrowIfFailed();
            var x = Assert.Single(r.Objects<TcpCloseResult>());
            Assert.Equal(TcpCloseStatus.Closed, x.Status);
            Assert.Equal(TcpCloseMethod.Shutdown, x.Method);
            Assert.StartsWith(Environment.ProcessId + "/", x.Via);
            Assert.Empty(CloseWaitOn(sockets.Port));

            var server = sockets.ServerSockets[0];
            var buf = new byte[16];
            Assert.Equal(4, server.Receive(buf));
            Assert.Equal(0, server.Receive(buf));
            var e = Assert.Throws<SocketException>(() => server.Send(new byte[] { 1 }));
            Assert.Equal(SocketError.Shutdown, e.SocketErrorCode); // EPIPE
            // On loopback the peer's acknowledgement usually lands before the lookup: LastAck or gone.
            Assert.True(x.RemainingState == null || x.RemainingState == TcpState.LastAck, $"remaining state {x.RemainingState}");
        }

        [LinuxFact(Root = true)]
        public void ShutdownFindsTheOwnerItselfWhenListedWithoutOwners()
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.IPv6Loopback, count: 2);
            var r = _ps.Run("Get-TcpCloseWait -LocalPort $port -NoOwner | Close-TcpConnection -Method Shutdown -Force -PassThru", Vars(("port", sockets.Port))).ThrowIfFailed();
            var results = r.Objects<TcpCloseResult>();
            Assert.Equal(2, results.Count);
            Assert.All(results, x => Assert.Null(x.ProcessId));
            Assert.All(results, x => Assert.Equal(TcpCloseStatus.Closed, x.Status));
            Assert.All(results, x => Assert.StartsWith(Environment.ProcessId + "/", x.Via));
            Assert.Empty(CloseWaitOn(sockets.Port));
        }

        [LinuxFact(Root = true)]
        public void ASocketReopenedOnTheSameAddressesAfterListingIsNotClosed()
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
            var stale = _ps.Run("Get-TcpConnection -LocalPort $port -RemotePort $cport", vars).ThrowIfFailed().Objects<TcpConnection>();
            var old = Assert.Single(stale);

            // The listed connection ends with a reset (no TIME_WAIT), and a new one takes the same four addresses.
            first.LingerState = new LingerOption(true, 0);
            first.Close();
            firstServer.Close();
            using var second = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            second.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            second.Bind(new IPEndPoint(IPAddress.Loopback, clientPort));
            second.Connect(serverEnd);
            using var secondServer = listener.Accept();
            var now = Assert.Single(_ps.Run("Get-TcpConnection -LocalPort $port -RemotePort $cport", vars).ThrowIfFailed().Objects<TcpConnection>());
            Assert.NotEqual(old.Cookie, now.Cookie);

            // The live object, then the same object after serialization: neither closes the new socket.
            vars["stale"] = old;
            var r = _ps.Run("$stale | Close-TcpConnection -Force -PassThru", vars).ThrowIfFailed();
            var x = Assert.Single(r.Objects<TcpCloseResult>());
            Assert.Equal(TcpCloseStatus.Replaced, x.Status);
            Assert.False(x.Closed);
            Assert.Null(x.Method);
            Assert.Single(r.Warnings, w => w.Contains("left open"));

            var d = _ps.Run("[System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($stale)) | Close-TcpConnection -Force -PassThru", vars).ThrowIfFailed();
            Assert.Equal(TcpCloseStatus.Replaced, Assert.Single(d.Objects<TcpCloseResult>()).Status);

            var still = Assert.Single(_ps.Run("Get-TcpConnection -LocalPort $port -RemotePort $cport", vars).ThrowIfFailed().Objects<TcpConnection>());
            Assert.Equal(now.Cookie, still.Cookie);
            Assert.Equal(TcpState.Established, still.State);
            second.Send(new byte[] { 7 });
            var buf = new byte[1];
            Assert.Equal(1, secondServer.Receive(buf));
        }

        [LinuxFact(Root = true)]
        public void ASocketClosedSinceListingIsReportedGoneNotAsAnError()
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback, count: 2);
            var listed = CloseWaitOn(sockets.Port);
            sockets.ServerSockets[0].Close();

            // Gone from the kernel's table, not only out of CLOSE_WAIT (LAST_ACK until the peer's ACK lands).
            var gone = Vars(("port", sockets.Port), ("cport", sockets.ClientPorts[0]));
            Wait.Until(() => (int)_ps.Run("@(Get-TcpConnection -LocalPort $port -RemotePort $cport -NoOwner).Count", gone).ThrowIfFailed().Output[0].BaseObject == 0,
                "the closed socket to leave the table");

            var r = _ps.Run("$listed | Close-TcpConnection -Force -PassThru", Vars(("listed", listed))).ThrowIfFailed();
            var results = r.Objects<TcpCloseResult>();
            Assert.Equal(2, results.Count);
            Assert.Equal(TcpCloseStatus.AlreadyGone, results.Single(x => x.RemotePort == sockets.ClientPorts[0]).Status);
            Assert.Equal(TcpCloseStatus.Closed, results.Single(x => x.RemotePort == sockets.ClientPorts[1]).Status);
            Assert.Empty(CloseWaitOn(sockets.Port));
        }

        [LinuxFact(Root = true)]
        public void WhatIfNamesEachSocketAndClosesNothing()
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback, count: 2);
            var listed = CloseWaitOn(sockets.Port);
            string text = _ps.Render("Get-TcpCloseWait -LocalPort $port | Close-TcpConnection -WhatIf -PassThru", Vars(("port", sockets.Port)));

            var lines = text.Split('\n').Where(l => l.StartsWith("What if:")).ToList();
            Assert.Equal(2, lines.Count);
            foreach (var c in listed)
            {
                Assert.Single(lines, l => l.Contains($"\"127.0.0.1:{sockets.Port} -> 127.0.0.1:{c.RemotePort} CloseWait, PID {Environment.ProcessId} (") && l.Contains($"cookie {c.Cookie}\""));
            }

            // -Force does not turn -WhatIf into a close.
            _ps.Run("Get-TcpCloseWait -LocalPort $port | Close-TcpConnection -WhatIf -Force", Vars(("port", sockets.Port))).ThrowIfFailed();
            Assert.Equal(2, CloseWaitOn(sockets.Port).Count);
            Assert.All(sockets.ServerSockets, s => s.Send(new byte[] { 1 }));
        }

        [LinuxFact(Root = true)]
        public void WithoutConfirmOrForceTheNonInteractiveHostRefusesAndNothingCloses()
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback);
            var r = _ps.Run("Get-TcpCloseWait -LocalPort $port | Close-TcpConnection -PassThru", Vars(("port", sockets.Port)));
            Assert.Equal(new[] { "InvalidOperation" + Cmdlet }, r.ErrorIds);
            Assert.Contains("non-interactive", r.Errors[0].Exception.Message);
            Assert.Empty(r.Output);
            Assert.Single(CloseWaitOn(sockets.Port));

            // An explicit -Confirm still asks even with -Force.
            var c = _ps.Run("Get-TcpCloseWait -LocalPort $port | Close-TcpConnection -Force -Confirm", Vars(("port", sockets.Port)));
            Assert.Equal(new[] { "InvalidOperation" + Cmdlet }, c.ErrorIds);
            Assert.Single(CloseWaitOn(sockets.Port));
        }

        [LinuxFact(Root = true)]
        public void FiltersNeedAnExplicitStateAndCloseOnlyWhatMatches()
        {
            using var a = LoopbackSockets.CloseWait(IPAddress.Loopback, count: 2);
            using var b = LoopbackSockets.CloseWait(IPAddress.Loopback, count: 1);
            var vars = Vars(("a", a.Port), ("r", a.ClientPorts[0]));

            // No -State: PowerShell asks for it (this host cannot), nothing closes.
            var missing = _ps.Run("Close-TcpConnection -LocalPort $a -Force", vars);
            Assert.Equal(new[] { "MissingMandatoryParameter" + Cmdlet }, missing.ErrorIds);
            Assert.Contains("State", missing.Errors[0].Exception.Message);
            Assert.Equal(2, CloseWaitOn(a.Port).Count);

            var r = _ps.Run("Close-TcpConnection -State CloseWait -LocalPort $a -RemotePort $r -Force -PassThru", vars).ThrowIfFailed();
            var x = Assert.Single(r.Objects<TcpCloseResult>());
            Assert.Equal(a.ClientPorts[0], x.RemotePort);
            Assert.Equal(TcpCloseStatus.Closed, x.Status);
            Assert.Equal(a.ClientPorts[1], Assert.Single(CloseWaitOn(a.Port)).RemotePort);
            Assert.Single(CloseWaitOn(b.Port));

            // Positional -State and -ProcessId from the command line.
            _ps.Run("Close-TcpConnection CloseWait -LocalPort $a -ProcessId $me -Force", Vars(("a", a.Port), ("me", Environment.ProcessId))).ThrowIfFailed();
            Assert.Empty(CloseWaitOn(a.Port));
            Assert.Single(CloseWaitOn(b.Port));
        }

        [LinuxFact(Root = true)]
        public void ANullProcessIdOnTheCommandLineIsRefusedButUnownedPipedConnectionsBind()
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback);
            var vars = Vars(("port", sockets.Port), ("nothing", null));

            // An empty variable must never widen the selection to every process.
            var r = _ps.Run("Close-TcpConnection -State CloseWait -LocalPort $port -ProcessId $nothing -Force", vars);
            Assert.Equal(new[] { ErrorIds.ProcessIdIsNull + Cmdlet }, r.ErrorIds);
            var g = _ps.Run("Get-TcpConnection -LocalPort $port -ProcessId $nothing", vars);
            Assert.Equal(new[] { "ProcessIdIsNull,CloseWait.Commands.GetTcpConnectionCommand" }, g.ErrorIds);
            var negative = _ps.Run("Close-TcpConnection -State CloseWait -ProcessId -1 -Force", vars);
            Assert.Equal(new[] { "ParameterArgumentValidationError" + Cmdlet }, negative.ErrorIds);
            Assert.Single(CloseWaitOn(sockets.Port));

            // A piped object whose Id is $null selects no process: nothing closes.
            var none = _ps.Run("[pscustomobject]@{ Id = $null } | Close-TcpConnection -State CloseWait -LocalPort $port -Force -PassThru", vars).ThrowIfFailed();
            Assert.Empty(none.Output);
            Assert.Single(CloseWaitOn(sockets.Port));

            // A piped connection without an owner still binds as the connection and closes.
            var unowned = _ps.Run("Get-TcpCloseWait -LocalPort $port -NoOwner | Close-TcpConnection -State CloseWait -Force -PassThru", vars).ThrowIfFailed();
            Assert.Equal(TcpCloseStatus.Closed, Assert.Single(unowned.Objects<TcpCloseResult>()).Status);
            Assert.Empty(CloseWaitOn(sockets.Port));
        }

        [LinuxFact(Root = true)]
        public void FiltersOnTheCommandLineNarrowPipedConnections()
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback, count: 2);
            var vars = Vars(("port", sockets.Port), ("r", sockets.ClientPorts[1]));
            var r = _ps.Run("Get-TcpCloseWait -LocalPort $port | Close-TcpConnection -RemotePort $r -Force -PassThru", vars).ThrowIfFailed();
            Assert.Equal(sockets.ClientPorts[1], Assert.Single(r.Objects<TcpCloseResult>()).RemotePort);
            Assert.Equal(sockets.ClientPorts[0], Assert.Single(CloseWaitOn(sockets.Port)).RemotePort);

            // A -ProcessId that is not the owner's leaves piped connections alone.
            var none = _ps.Run("Get-TcpCloseWait -LocalPort $port | Close-TcpConnection -ProcessId 1 -Force -PassThru", vars).ThrowIfFailed();
            Assert.Empty(none.Output);
            Assert.Single(CloseWaitOn(sockets.Port));
        }

        [LinuxFact(Root = true)]
        public void AListenerClosesOnlyWhenStateNamesIt()
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback);
            var vars = Vars(("port", sockets.Port));
            var r = _ps.Run("Get-TcpConnection -LocalPort $port | Close-TcpConnection -Force -PassThru", vars);
            Assert.Equal(new[] { ErrorIds.ListenerNotClosed + Cmdlet }, r.ErrorIds);
            Assert.Equal(TcpCloseStatus.Skipped, r.Objects<TcpCloseResult>().Single(x => x.State == TcpState.Listen).Status);
            Assert.Equal(TcpCloseStatus.Closed, r.Objects<TcpCloseResult>().Single(x => x.State == TcpState.CloseWait).Status);
            Assert.Equal(TcpState.Listen, Assert.Single(AllOn(sockets.Port)).State);

            // -State CloseWait piped: the listener is filtered out, no error.
            Assert.Empty(_ps.Run("Get-TcpConnection -LocalPort $port | Close-TcpConnection -State CloseWait -Force", vars).ThrowIfFailed().Output);
            Assert.Single(AllOn(sockets.Port));

            var l = _ps.Run("Close-TcpConnection -State Listen -LocalPort $port -Force -PassThru", vars).ThrowIfFailed();
            Assert.Equal(TcpCloseStatus.Closed, Assert.Single(l.Objects<TcpCloseResult>()).Status);
            Assert.Empty(AllOn(sockets.Port));
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            var e = Assert.Throws<SocketException>(() => probe.Connect(new IPEndPoint(IPAddress.Loopback, sockets.Port)));
            Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
        }

        [LinuxFact(Root = true)]
        public void ObjectsThatAreNotConnectionsAreRefused()
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback);
            var vars = Vars(("port", sockets.Port), ("me", Environment.ProcessId));

            // A process-like object (Id only): binds to no parameter set without -State.
            var r = _ps.Run("[pscustomobject]@{ Id = $me } | Close-TcpConnection -Force", vars);
            Assert.Equal(new[] { "InputObjectMissingMandatory" + Cmdlet }, r.ErrorIds);

            // A record that claims to be a connection but has no usable address.
            var bad = _ps.Run(@"$o = [pscustomobject]@{ AddressFamily = 'InterNetwork'; LocalAddress = 'nope'; LocalPort = $port; RemoteAddress = '127.0.0.1'; RemotePort = 1; State = 'CloseWait'; Cookie = 1 }
$o.PSObject.TypeNames.Insert(0, 'Deserialized.CloseWait.TcpConnection')
$o | Close-TcpConnection -Force", vars);
            Assert.Equal(new[] { "ParameterArgumentTransformationError" + Cmdlet }, bad.ErrorIds);
            Assert.Contains("LocalAddress 'nope' is not an IP address", bad.Errors[0].Exception.Message + bad.Errors[0].Exception.InnerException?.Message);
            Assert.Single(CloseWaitOn(sockets.Port));
        }

        [LinuxFact(Root = true)]
        public void ARecordWithoutAUsableIdentityIsRefusedAndAnInodeAloneIsChecked()
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback);
            var vars = Vars(("port", sockets.Port));
            _ps.Run("$script:x = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize(@(Get-TcpCloseWait -LocalPort $port)[0])); $script:inode = $x.Inode", vars).ThrowIfFailed();

            // The all-ones cookie would switch the kernel's cookie check off: refused at binding, naming the column.
            var max = _ps.Run("$x.Cookie = [uint64]::MaxValue; $x | Close-TcpConnection -Force -PassThru");
            Assert.Equal(new[] { "ParameterArgumentTransformationError" + Cmdlet }, max.ErrorIds);
            Assert.Contains("Cookie 18446744073709551615 is the kernel's 'no cookie' value", max.Errors[0].Exception.Message);
            Assert.Contains("leave Cookie empty (Inode then identifies the socket)", max.Errors[0].Exception.Message);
            Assert.Empty(max.Objects<TcpCloseResult>());
            Assert.Single(CloseWaitOn(sockets.Port));

            var none = _ps.Run("$x.Cookie = $null; $x.Inode = $null; $x | Close-TcpConnection -Force");
            Assert.Equal(new[] { ErrorIds.ConnectionIdentityUnknown + Cmdlet }, none.ErrorIds);
            Assert.Single(CloseWaitOn(sockets.Port));

            // A wrong inode: the socket on those addresses is another one.
            var wrong = _ps.Run("$x.Inode = $inode + 1; $x | Close-TcpConnection -Force -PassThru").ThrowIfFailed();
            Assert.Equal(TcpCloseStatus.Replaced, Assert.Single(wrong.Objects<TcpCloseResult>()).Status);
            Assert.Single(CloseWaitOn(sockets.Port));

            // As from /proc/net/tcp: no cookie, the inode proves it is the listed socket.
            var byInode = _ps.Run("$x.Inode = $inode; $x | Close-TcpConnection -Force -PassThru").ThrowIfFailed();
            Assert.Equal(TcpCloseStatus.Closed, Assert.Single(byInode.Objects<TcpCloseResult>()).Status);
            Assert.Empty(CloseWaitOn(sockets.Port));
        }

        [LinuxFact(Namespaces = true)]
        public void ClosesInAnotherNetworkNamespaceWithoutTouchingTheHost()
        {
            using var ns = new PrivateNetworkNamespace();
            using var sockets = TestNative.InNamespaceOf(ns.Pid, () => LoopbackSockets.CloseWait(IPAddress.Loopback, count: 2));
            var vars = Vars(("port", sockets.Port), ("ns", ns.Pid.ToString()));
            Assert.Equal(2, _ps.Run("Get-TcpCloseWait -LocalPort $port -NetworkNamespace $ns", vars).ThrowIfFailed().Output.Count);

            // Through serialization too: the namespace travels with the object.
            var r = _ps.Run(@"$x = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize(@(Get-TcpCloseWait -LocalPort $port -NetworkNamespace $ns)))
$x | Close-TcpConnection -Force -PassThru", vars).ThrowIfFailed();
            var results = r.Objects<TcpCloseResult>();
            Assert.Equal(2, results.Count);
            Assert.All(results, x => Assert.Equal(TcpCloseStatus.Closed, x.Status));
            Assert.All(results, x => Assert.Equal(ns.Pid.ToString(), x.NetworkNamespace));
            Assert.Empty(_ps.Run("Get-TcpCloseWait -LocalPort $port -NetworkNamespace $ns", vars).ThrowIfFailed().Output);
        }

        [LinuxFact(Root = true)]
        public void PassThruFormatsAsATableWithStatusAndMethod()
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback);
            string text = _ps.Render("Get-TcpCloseWait -LocalPort $port | Close-TcpConnection -Force -PassThru", Vars(("port", sockets.Port)));
            var lines = text.Split('\n').Select(l => l.TrimEnd()).Where(l => l.Length > 0).ToList();
            Assert.Matches(@"^Local\s+Remote\s+Status\s+Now\s+PID/Program$", lines[0]);
            var row = lines.Single(l => l.Contains($"127.0.0.1:{sockets.Port}"));
            Assert.Matches($@"Closed\s+gone\s+{Environment.ProcessId}/\S+$", row);
        }

        [Fact]
        public void HelpHasSyntaxForBothParameterSetsAndExamples()
        {
            var r = _ps.Run("$h = Get-Help Close-TcpConnection -Full; $h.Synopsis; @($h.Examples.Example).Count; @($h.Syntax.SyntaxItem).Count").ThrowIfFailed();
            Assert.Contains("without stopping", r.Output[0].ToString());
            Assert.True((int)r.Output[1].BaseObject >= 4);
            Assert.Equal(2, (int)r.Output[2].BaseObject);
        }

        [LinuxTheory(Root = true)]
        [InlineData("Abort", ErrorIds.SocketCloseAccessDenied)]
        [InlineData("Shutdown", ErrorIds.SocketCloseAccessDenied)]
        public void UnprivilegedRunGetsThePermissionErrorAndClosesNothing(string method, string errorId)
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback, count: 2);

            // Listed here as root (owners and descriptors known), handed to a child running as nobody.
            using (var nobody = new UnprivilegedHost(_ps.ManifestPath))
            {
                string listed = Path.Combine(nobody.Home, "listed.xml");
                _ps.Run("[System.IO.File]::WriteAllText($path, [System.Management.Automation.PSSerializer]::Serialize(@(Get-TcpCloseWait -LocalPort $port), 3))",
                    Vars(("path", listed), ("port", sockets.Port))).ThrowIfFailed();
                TestNative.Run("chmod", $"644 {listed}");

                string script = $"[System.Management.Automation.PSSerializer]::Deserialize([System.IO.File]::ReadAllText('{listed}')) | Close-TcpConnection -Method {method} -Force -PassThru -ErrorVariable e -ErrorAction SilentlyContinue | ForEach-Object {{ 'RESULT ' + $_.Status }}; $e | ForEach-Object {{ 'ERROR ' + $_.FullyQualifiedErrorId + ' ' + $_.Exception.Message }}";
                var (code, output) = nobody.RunAsNobody($"dotnet {nobody.HostDll} \"{script}\"");

                var lines = output.Split('\n');
                Assert.True(lines.Count(l => l.StartsWith("RESULT Failed")) == 2, output);
                var errors = lines.Where(l => l.StartsWith("ERROR ")).ToList();
                Assert.Equal(2, errors.Count);
                Assert.All(errors, l => Assert.StartsWith($"ERROR {errorId}{Cmdlet} ", l));
                Assert.All(errors, l => Assert.Contains("Run as root (sudo).", l));
            }

            Assert.Equal(2, CloseWaitOn(sockets.Port).Count);
            Assert.All(sockets.ServerSockets, s => s.Send(new byte[] { 1 }));
        }
    }
}
