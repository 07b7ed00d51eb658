using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using CloseWait.Platform;
using CloseWait.Platform.Linux;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>Get-TcpCloseWait and Get-TcpConnection through the real engine, on real loopback sockets.</summary>
    [Collection("PowerShell")]
    public sealed class GetTcpCloseWaitTests
    {
        private const string GetConnection = "CloseWait.Commands.GetTcpConnectionCommand";
        private const string GetCloseWait = "CloseWait.Commands.GetTcpCloseWaitCommand";
        private readonly PowerShellFixture _ps;

        public GetTcpCloseWaitTests(PowerShellFixture ps) => _ps = ps;

        private static Dictionary<string, object?> Vars(params (string, object?)[] pairs) => pairs.ToDictionary(p => p.Item1, p => p.Item2);

        private List<TcpConnection> CloseWaitOn(int port, string extra = "") =>
            _ps.Run($"Get-TcpCloseWait -LocalPort $port {extra}", Vars(("port", port))).ThrowIfFailed().Objects<TcpConnection>();

        [Theory]
        [InlineData("127.0.0.1")]
        [InlineData("::1")]
        public void FindsCloseWaitSocketWithPortsOwnerAndQueue(string loopback)
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Parse(loopback), bytes: 5);
            var c = Assert.Single(CloseWaitOn(sockets.Port));
            Assert.Equal(TcpState.CloseWait, c.State);
            Assert.Equal(loopback == "::1" ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork, c.AddressFamily);
            Assert.Equal(loopback, c.LocalAddress);
            Assert.Equal(loopback, c.RemoteAddress);
            Assert.Equal(sockets.Port, c.LocalPort);
            Assert.Equal(sockets.ClientPorts[0], c.RemotePort);
            Assert.Equal(Environment.ProcessId, c.ProcessId);
            Assert.Equal(Environment.ProcessId, c.Id);
            Assert.Equal(TestNative.Comm(Environment.ProcessId), c.Program);
            var owner = Assert.Single(c.Owners);
            Assert.Equal(Environment.ProcessId, owner.ProcessId);
            Assert.Equal((int)sockets.ServerSockets[0].Handle, owner.FileDescriptor);
            Assert.Equal(5, c.ReceiveQueue);
            Assert.Equal(0, c.SendQueue);
            Assert.Equal(0, c.UserId);
            Assert.NotNull(c.Inode);
            Assert.NotNull(c.Cookie);
            Assert.NotNull(c.IdleTime);
            Assert.Equal("Netlink", c.Source);
            Assert.Null(c.NetworkNamespace);
        }

        [Fact]
        public void ReceiveQueueCountsTheUnreadBytes()
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback, bytes: 1234);
            Assert.Equal(1234, Assert.Single(CloseWaitOn(sockets.Port)).ReceiveQueue);
            var buffer = new byte[1000];
            int read = sockets.ServerSockets[0].Receive(buffer);
            Assert.Equal(1234 - read, Assert.Single(CloseWaitOn(sockets.Port)).ReceiveQueue);
        }

        [Fact]
        public void IdleTimeGrowsWhileTheSocketIsStuck()
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback);
            var clock = Stopwatch.StartNew(); // started first, so it spans more than the two samples do
            var first = Assert.Single(CloseWaitOn(sockets.Port)).IdleTime!.Value;
            TimeSpan second = first;
            Wait.Until(() => (second = Assert.Single(CloseWaitOn(sockets.Port)).IdleTime!.Value) - first >= TimeSpan.FromSeconds(1), "the idle time to grow by a second");

            // It grows with the clock, never faster (the kernel counts in jiffies: allow one tick of 10 ms).
            Assert.True(second - first <= clock.Elapsed + TimeSpan.FromMilliseconds(10), $"{second - first} > {clock.Elapsed}");
        }

        [Fact]
        public void MinimumIdleTimeKeepsOnlySocketsStuckThatLong()
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback, count: 2);
            Assert.Empty(CloseWaitOn(sockets.Port, "-MinimumIdleTime 00:10:00"));
            Assert.Empty(CloseWaitOn(sockets.Port, "-MinimumIdleTime 600"));
            Wait.Until(() => CloseWaitOn(sockets.Port, "-MinimumIdleTime 0.5").Count == 2, "both sockets to be idle for half a second");
            Assert.Equal(2, CloseWaitOn(sockets.Port, "-MinimumIdleTime 00:00:00.5").Count);
        }

        [Fact]
        public void EveryFilterSelectsAndExcludes()
        {
            using var v4 = LoopbackSockets.CloseWait(IPAddress.Loopback);
            using var v6 = LoopbackSockets.CloseWait(IPAddress.IPv6Loopback);
            int me = Environment.ProcessId;
            string comm = TestNative.Comm(me);
            var vars = Vars(("p4", v4.Port), ("p6", v6.Port), ("r4", v4.ClientPorts[0]), ("me", me), ("name", comm.Substring(0, 3) + "*"), ("exact", comm));

            int Count(string filter) => _ps.Run($"@(Get-TcpConnection -LocalPort $p4,$p6 {filter}).Count", vars).ThrowIfFailed().Output.Single().BaseObject is int n ? n : -1;

            Assert.Equal(4, Count(string.Empty)); // two listeners, two CLOSE_WAIT
            Assert.Equal(2, Count("-State CloseWait"));
            Assert.Equal(2, Count("-State Listen"));
            Assert.Equal(0, Count("-State Established,TimeWait"));
            Assert.Equal(1, Count("-State CloseWait -RemotePort $r4"));
            Assert.Equal(2, Count("-LocalAddress 127.0.0.0/8"));
            Assert.Equal(0, Count("-LocalAddress 10.0.0.0/8"));
            Assert.Equal(2, Count("-LocalAddress ::1"));
            Assert.Equal(1, Count("-RemoteAddress 127.0.0.1 -State CloseWait"));
            Assert.Equal(2, Count("-AddressFamily IPv6"));
            Assert.Equal(2, Count("-AddressFamily InterNetwork"));
            Assert.Equal(4, Count("-ProcessId $me"));
            Assert.Equal(0, Count("-ProcessId 1"));
            Assert.Equal(4, Count("-ProcessName $name"));
            Assert.Equal(4, Count("-ProcessName $exact"));
            Assert.Equal(0, Count("-ProcessName 'no-such-process-*'"));
            Assert.Equal(4, Count("-NoOwner"));

            // A listener has no idle time to give: $null, not zero.
            var listeners = _ps.Run("Get-TcpConnection -LocalPort $p4,$p6 -State Listen", vars).ThrowIfFailed().Objects<TcpConnection>();
            Assert.Equal(2, listeners.Count);
            Assert.All(listeners, l => Assert.Null(l.IdleTime));
        }

        [Fact]
        public void ProcessIdBindsFromPipedObjectsById()
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback);
            var vars = Vars(("port", sockets.Port), ("me", Environment.ProcessId));
            var found = _ps.Run("[pscustomobject]@{ Id = $me }, [pscustomobject]@{ Id = 1 } | Get-TcpCloseWait -LocalPort $port", vars).ThrowIfFailed().Objects<TcpConnection>();
            Assert.Equal(Environment.ProcessId, Assert.Single(found).ProcessId);

            // As Get-Process output would: the real Process object of the test.
            vars["proc"] = Process.GetCurrentProcess();
            Assert.Single(_ps.Run("$proc | Get-TcpCloseWait -LocalPort $port", vars).ThrowIfFailed().Output);
            Assert.Empty(_ps.Run("[pscustomobject]@{ Id = 1 } | Get-TcpCloseWait -LocalPort $port", vars).ThrowIfFailed().Output);
            Assert.Empty(_ps.Run("@() | Get-TcpCloseWait", vars).ThrowIfFailed().Output);
        }

        [Fact]
        public void NoOwnerLeavesOwnerFieldsNull()
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback);
            var c = Assert.Single(CloseWaitOn(sockets.Port, "-NoOwner"));
            Assert.Null(c.ProcessId);

            // Never blank: a blank Id in a CSV converts to 0, and Stop-Process -Id 0 is kill(0), the caller's process group.
            Assert.Equal("none@" + Environment.MachineName, c.Id.ToString());
            Assert.Null(c.Program);
            Assert.Empty(c.Owners);
            Assert.NotNull(c.Inode);
        }

        [Fact]
        public void SharedSocketListsEveryOwnerAndAnotherProcessIsNamed()
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback);
            var server = sockets.ServerSockets[0];
            Process child;
            TestNative.SetInheritable(server.SafeHandle, true);
            try
            {
                child = Process.Start(new ProcessStartInfo("sleep", "3600") { UseShellExecute = false })!;
            }
            finally
            {
                TestNative.SetInheritable(server.SafeHandle, false);
            }

            try
            {
                var c = Assert.Single(CloseWaitOn(sockets.Port));
                Assert.Equal(new[] { Math.Min(Environment.ProcessId, child.Id), Math.Max(Environment.ProcessId, child.Id) }, c.Owners.Select(o => o.ProcessId).ToArray());
                Assert.Contains(c.Owners, o => o.ProcessId == child.Id && o.Program == "sleep");
                Assert.Equal(c.Owners[0].ProcessId, c.ProcessId);

                // Once this process closes its copy, the child alone holds the socket.
                server.Close();
                var alone = Assert.Single(CloseWaitOn(sockets.Port));
                Assert.Equal(child.Id, alone.ProcessId);
                Assert.Equal("sleep", alone.Program);
                Assert.Single(alone.Owners);
            }
            finally
            {
                child.Kill();
                child.WaitForExit(5000);
            }
        }

        [Fact]
        public void StopProcessBindsIdNeverName()
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback);

            // Stop-Process's own parameter declaration (PowerShell's StopProcessCommand): it is
            // not in a Core-only runspace, so the same binding is declared here and driven by the engine.
            const string shape = @"
function Stop-ProcessShape {
    [CmdletBinding(DefaultParameterSetName = 'Id', SupportsShouldProcess = $true)]
    param(
        [Parameter(Position = 0, ParameterSetName = 'Id', Mandatory = $true, ValueFromPipelineByPropertyName = $true)]
        [int[]] $Id,
        [Parameter(ParameterSetName = 'Name', Mandatory = $true, ValueFromPipelineByPropertyName = $true)]
        [Alias('ProcessName')]
        [string[]] $Name,
        [Parameter(ParameterSetName = 'InputObject', Mandatory = $true, ValueFromPipeline = $true)]
        [System.Diagnostics.Process[]] $InputObject,
        [switch] $PassThru,
        [switch] $Force)
    process { [pscustomobject]@{ Set = $PSCmdlet.ParameterSetName; Id = $Id; Name = $Name } }
}";
            var vars = Vars(("port", sockets.Port));
            var bound = _ps.Run(shape + "\nGet-TcpCloseWait -LocalPort $port | Stop-ProcessShape -WhatIf", vars).ThrowIfFailed().Output.Single();
            Assert.Equal("Id", bound.Properties["Set"].Value);
            Assert.Equal(new[] { Environment.ProcessId }, (int[])bound.Properties["Id"].Value);
            Assert.Null(bound.Properties["Name"].Value);

            // The hazard this guards against: an object with ProcessName and no Id binds -Name.
            var hazard = _ps.Run(shape + "\n[pscustomobject]@{ ProcessName = 'x'; Id = '1' } | Stop-ProcessShape -WhatIf", vars).ThrowIfFailed().Output.Single();
            Assert.Equal("Name", hazard.Properties["Set"].Value);

            // What an exported connection looks like after Import-Csv: it binds nothing.
            var csv = _ps.Run(shape + "\nGet-TcpCloseWait -LocalPort $port | ForEach-Object { [pscustomobject]@{ Id = \"$($_.Id)\"; ProcessId = \"$($_.ProcessId)\"; Program = $_.Program } } | Stop-ProcessShape -WhatIf", vars);
            Assert.Empty(csv.Output);
            Assert.NotEmpty(csv.Errors);
        }

        [Theory]
        [InlineData("Get-TcpConnection -LocalPort 70000", "ParameterArgumentValidationError," + GetConnection)]
        [InlineData("Get-TcpConnection -RemotePort -1", "ParameterArgumentValidationError," + GetConnection)]
        [InlineData("Get-TcpConnection -LocalAddress nope", "CannotConvertArgumentNoMessage," + GetConnection)]
        [InlineData("Get-TcpConnection -RemoteAddress 10.0.0.0/40", "CannotConvertArgumentNoMessage," + GetConnection)]
        [InlineData("Get-TcpConnection -State Bogus", "CannotConvertArgumentNoMessage," + GetConnection)]
        [InlineData("Get-TcpConnection -AddressFamily IPv5", "ParameterArgumentValidationError," + GetConnection)]
        [InlineData("Get-TcpConnection -ProcessId -3", "ParameterArgumentValidationError," + GetConnection)]
        [InlineData("Get-TcpCloseWait -MinimumIdleTime -5", "ParameterArgumentValidationError," + GetCloseWait)]
        [InlineData("Get-TcpCloseWait -MinimumIdleTime soon", "ParameterArgumentTransformationError," + GetCloseWait)]
        [InlineData("Get-TcpCloseWait -State Listen", "NamedParameterNotFound," + GetCloseWait)]
        [InlineData("Get-TcpCloseWait -NetworkNamespace /nonexistent/ns", "NetworkNamespaceNotFound," + GetCloseWait)]
        [InlineData("Get-TcpCloseWait -NetworkNamespace 999999999", "NetworkNamespaceNotFound," + GetCloseWait)]
        [InlineData("Get-TcpCloseWait -NetworkNamespace /etc/hostname", "InvalidNetworkNamespace," + GetCloseWait)]
        public void BadParametersGiveTheRightError(string script, string errorId)
        {
            var r = _ps.Run(script);
            Assert.Equal(errorId, r.ErrorIds.First());
            Assert.Empty(r.Output);
        }

        [Fact]
        public void BadAddressErrorSaysWhatToGive()
        {
            string Message(string script)
            {
                var r = _ps.Run(script);
                return (r.Terminating?.ErrorRecord ?? r.Errors.First()).Exception.Message;
            }

            Assert.Contains("the length must be between 0 and 32", Message("Get-TcpConnection -RemoteAddress 10.0.0.0/40"));
            Assert.Contains("or a prefix such as 10.0.0.0/8", Message("Get-TcpConnection -LocalAddress nope"));
            Assert.Contains("CloseWait, Closing", Message("Get-TcpConnection -State Bogus")); // lists the valid state names
        }

        [Fact]
        public void StateParameterCompletesTheStateNames()
        {
            var r = _ps.Run("(TabExpansion2 -inputScript 'Get-TcpConnection -State Close' -cursorColumn 30).CompletionMatches.CompletionText").ThrowIfFailed();
            var names = r.Output.Select(o => o.ToString()).ToList();
            Assert.Contains("CloseWait", names);
            Assert.Contains("Closed", names);
            Assert.DoesNotContain("Listen", names);
        }

        [LinuxFact(Namespaces = true)]
        public void ReadsAnotherNetworkNamespaceWithoutShowingItOnTheHost()
        {
            using var ns = new PrivateNetworkNamespace();
            using var sockets = TestNative.InNamespaceOf(ns.Pid, () => LoopbackSockets.CloseWait(IPAddress.Loopback, bytes: 3));
            var vars = Vars(("port", sockets.Port), ("ns", ns.Pid.ToString()));
            var inside = _ps.Run("Get-TcpCloseWait -LocalPort $port -NetworkNamespace $ns", vars).ThrowIfFailed().Objects<TcpConnection>();
            var c = Assert.Single(inside);
            Assert.Equal(ns.Pid.ToString(), c.NetworkNamespace);
            Assert.Equal(Environment.ProcessId, c.ProcessId); // owners are found across namespaces
            Assert.Equal(3, c.ReceiveQueue);

            var byPath = _ps.Run("Get-TcpCloseWait -LocalPort $port -NetworkNamespace \"/proc/$ns/ns/net\"", vars).ThrowIfFailed().Objects<TcpConnection>();
            Assert.Equal(c.Cookie, Assert.Single(byPath).Cookie);

            var host = _ps.Run("Get-TcpConnection -LocalPort $port", vars).ThrowIfFailed().Objects<TcpConnection>();
            Assert.DoesNotContain(host, h => h.Cookie == c.Cookie);
        }

        [Fact]
        public void NetlinkAndProcBackEndsAgree()
        {
            using var v4 = LoopbackSockets.CloseWait(IPAddress.Loopback, count: 3, bytes: 9);
            using var v6 = LoopbackSockets.CloseWait(IPAddress.IPv6Loopback, count: 2, bytes: 4);
            var ports = new HashSet<int> { v4.Port, v6.Port };
            var query = new SocketQuery { States = new[] { TcpState.CloseWait, TcpState.Listen } };

            // A listener's backlog is netlink-only (/proc gives null), so its SendQueue is not compared.
            string Key(TcpConnection c) => $"{c.LocalAddress}|{c.LocalPort}|{c.RemoteAddress}|{c.RemotePort}|{c.State}|{c.Inode}|{c.ReceiveQueue}|{(c.State == TcpState.Listen ? null : c.SendQueue)}|{c.UserId}";
            List<string> Read(LinuxTableBackend backend) =>
                new LinuxSocketTable { ForcedBackend = backend }.Read(query, CancellationToken.None)
                    .Where(c => ports.Contains(c.LocalPort)).Select(Key).OrderBy(k => k).ToList();

            var netlink = Read(LinuxTableBackend.Netlink);
            var proc = Read(LinuxTableBackend.ProcNet);
            Assert.Equal(7, netlink.Count);
            Assert.Equal(netlink, proc);
        }

        [Fact]
        public void ACancelledListingStopsAtOnce()
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback);
            using var cts = new CancellationTokenSource();
            cts.Cancel();
            var lister = new ConnectionLister(PlatformServices.SocketTable, PlatformServices.OwnerResolver);
            Assert.ThrowsAny<OperationCanceledException>(() => lister.List(new ConnectionFilter(), new SocketQuery(), resolveOwners: true, cts.Token).ToList());
            Assert.ThrowsAny<OperationCanceledException>(() => lister.List(new ConnectionFilter(), new SocketQuery(), resolveOwners: false, cts.Token).ToList());
        }

        [Fact]
        public void StoppingThePipelineEndsTheListing()
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback, count: 30);
            using var ps = PowerShell.Create();
            ps.Runspace = _ps.Runspace;
            _ps.Runspace.SessionStateProxy.SetVariable("port", sockets.Port);
            ps.AddScript("Get-TcpCloseWait -LocalPort $port | ForEach-Object { [System.Threading.Thread]::Sleep(100); $_ }");
            var output = new PSDataCollection<PSObject>();
            var async = ps.BeginInvoke<PSObject, PSObject>(null, output);

            // Stop once the first objects are out (bounded wait: a loaded machine is slow to start).
            var started = Stopwatch.StartNew();
            while (output.Count < 2 && started.ElapsedMilliseconds < 20000)
            {
                Thread.Sleep(20);
            }

            // Bounded only to catch a hang; how fast the stop is belongs to bench/, not to a timed test.
            ps.Stop();
            Assert.True(async.AsyncWaitHandle.WaitOne(60000));
            Assert.Equal(PSInvocationState.Stopped, ps.InvocationStateInfo.State);
            Assert.InRange(output.Count, 1, 29); // streamed: some objects arrived before the stop, not all
        }

        [Fact]
        public void ObjectsSurviveRemotingSerializationAndStillFormat()
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback);
            var vars = Vars(("port", sockets.Port));
            var r = _ps.Run("$x = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize(@(Get-TcpCloseWait -LocalPort $port)[0])); $x", vars).ThrowIfFailed();
            var d = r.Output.Single();
            Assert.Contains("Deserialized.CloseWait.TcpConnection", d.TypeNames);
            Assert.Equal(Environment.ProcessId, Convert.ToInt32(d.Properties["ProcessId"].Value));
            Assert.Equal(sockets.Port, Convert.ToInt32(d.Properties["LocalPort"].Value));
            Assert.Equal("CloseWait", d.Properties["State"].Value.ToString());
            var owners = ((System.Collections.IEnumerable)((PSObject)d.Properties["Owners"].Value).BaseObject).Cast<object>();
            var owner = (PSObject)owners.Single();
            Assert.Equal(Environment.ProcessId, Convert.ToInt32(owner.Properties["ProcessId"].Value));

            string table = _ps.Render("$x");
            Assert.Contains("PID/Program", table);
            Assert.Contains($"127.0.0.1:{sockets.Port}", table);
            Assert.Contains($"{Environment.ProcessId}/{TestNative.Comm(Environment.ProcessId)}", table);

            // A PID names a process only where it was listed: a deserialized connection's Id is its
            // text, which no conversion makes a PID, so Stop-Process refuses it (README, "A fleet").
            var ids = _ps.Run("[pscustomobject]@{ Id = $x.Id; Name = $x.Program; Converts = [System.Management.Automation.LanguagePrimitives]::TryConvertTo($x.Id, [int], [ref] $null) }").ThrowIfFailed().Output.Single();
            Assert.Equal($"{Environment.ProcessId}@{Environment.MachineName}", ids.Properties["Id"].Value?.ToString());
            Assert.Equal(false, ids.Properties["Converts"].Value);
            Assert.Equal(TestNative.Comm(Environment.ProcessId), ids.Properties["Name"].Value?.ToString());
        }

        [Fact]
        public void DefaultTableReadsLikeNetstat()
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.IPv6Loopback, bytes: 42);
            string text = _ps.Render("Get-TcpCloseWait -LocalPort $port", Vars(("port", sockets.Port)));
            var lines = text.Split('\n').Select(l => l.TrimEnd()).Where(l => l.Length > 0).ToList();
            Assert.Matches(@"^Local\s+Remote\s+State\s+Idle\s+PID/Program$", lines[0]);
            var row = lines.Single(l => l.Contains($"[::1]:{sockets.Port}"));
            Assert.Contains($"[::1]:{sockets.ClientPorts[0]}", row);
            Assert.Matches($@"CloseWait\s+\d+(ms|s)\s+{Environment.ProcessId}/\S+$", row);
        }

        [LinuxFact(Root = true)]
        public void AsRootTheWarningDoesNotAdviseRoot()
        {
            string text = ConnectionLister.OwnerWarning(1, 1);
            Assert.Contains("even as root", text);
            Assert.DoesNotContain("sudo", text);
        }

        [LinuxFact(Root = true)]
        public void WithoutRootOwnersAreNullAndOneWarningSaysSo()
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback);
            using var nobody = new UnprivilegedHost(_ps.ManifestPath);
            var (code, output) = nobody.RunAsNobody($"dotnet {nobody.HostDll} Get-TcpCloseWait -LocalPort {sockets.Port}");
            Assert.True(code == 0, output);
            var row = output.Split('\n').Single(l => l.Contains($"127.0.0.1:{sockets.Port}"));
            Assert.Contains("CloseWait", row);
            Assert.Matches(@"\s-\s*$", row); // no owner: "-" in the last column
            Assert.Single(output.Split('\n'), l => l.StartsWith("WARNING:") && l.Contains("Run as root"));
        }
    }
}
