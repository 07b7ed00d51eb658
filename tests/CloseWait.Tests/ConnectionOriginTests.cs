using System;
using System.Linq;
using System.Management.Automation;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Xml.Linq;
using CloseWait.Commands;
using CloseWait.Platform.Linux;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>Where a connection was listed, and the refusal of one listed elsewhere: the pure logic.</summary>
    public sealed class ConnectionOriginTests
    {
        private const string Boot = "0a14df50-68e1-49ff-b37f-ed25db4f4dfa";

        private static TcpConnection Listed(string? bootId, ulong? namespaceInode, string? computerName = "web01") =>
            new ConnectionOrigin(computerName, bootId, namespaceInode).Stamp(
                new TcpConnection(AddressFamily.InterNetwork, IPAddress.Parse("10.0.0.5"), 8080, IPAddress.Parse("10.0.0.9"), 50000, TcpState.CloseWait, 8, "Netlink") { Cookie = 42 });

        [Fact]
        public void AConnectionListedInThisBootAndNamespaceIsHere()
        {
            Assert.Null(ConnectionOrigin.Elsewhere(Listed(Boot, 4026531833), Boot, 4026531833));
            Assert.Null(ConnectionOrigin.Elsewhere(Listed(Boot.ToUpperInvariant(), 4026531833), Boot, 4026531833));
        }

        [Fact]
        public void AnotherBootIsElsewhereAndSaysWhichHost()
        {
            string? where = ConnectionOrigin.Elsewhere(Listed("d59dc1cd-1109-4e75-8363-c7fb933b21d0", 4026531833), Boot, 4026531833);
            Assert.NotNull(where);
            Assert.Contains("host web01", where);
            Assert.Contains("d59dc1cd-1109-4e75-8363-c7fb933b21d0", where);
        }

        [Fact]
        public void AnotherNetworkNamespaceOfThisBootIsElsewhere()
        {
            string? where = ConnectionOrigin.Elsewhere(Listed(Boot, 4026532000), Boot, 4026531833);
            Assert.NotNull(where);
            Assert.Contains("net:[4026532000]", where);
        }

        [Fact]
        public void WhatIsNotKnownDoesNotRefuse()
        {
            // A record made by hand, or a platform with no boot identity (macOS) or no namespaces (Windows).
            Assert.Null(ConnectionOrigin.Elsewhere(Listed(null, null), Boot, 4026531833));
            Assert.Null(ConnectionOrigin.Elsewhere(Listed(Boot, 4026531833), null, null));
        }

        [Fact]
        public void AWindowsBootIsTheMachineGuidAndTheBootTimeWithinTheTolerance()
        {
            var boot = new DateTime(2026, 11, 27, 8, 0, 0, DateTimeKind.Utc);
            string id = ConnectionOrigin.WindowsBootId(" 9A1B2C3D-0000-4000-8000-000000000001 ", boot);
            Assert.Equal("windows:9a1b2c3d-0000-4000-8000-000000000001:1795766400", id);

            // The same boot read again later: now minus the tick count moves with clock drift.
            Assert.True(ConnectionOrigin.SameBoot(id, ConnectionOrigin.WindowsBootId("9a1b2c3d-0000-4000-8000-000000000001", boot.AddSeconds(3))));
            Assert.True(ConnectionOrigin.SameBoot(id, ConnectionOrigin.WindowsBootId("9a1b2c3d-0000-4000-8000-000000000001", boot.AddSeconds(-30))));
            // A reboot, or another machine.
            Assert.False(ConnectionOrigin.SameBoot(id, ConnectionOrigin.WindowsBootId("9a1b2c3d-0000-4000-8000-000000000001", boot.AddMinutes(5))));
            Assert.False(ConnectionOrigin.SameBoot(id, ConnectionOrigin.WindowsBootId("9a1b2c3d-0000-4000-8000-000000000002", boot)));
            // A Linux boot never matches a Windows one.
            Assert.False(ConnectionOrigin.SameBoot(id, Boot));
            Assert.False(ConnectionOrigin.SameBoot("windows:garbage", "windows:garbage2"));
        }

        [Theory]
        [InlineData("net:[4026531833]", 4026531833UL)]
        [InlineData("net:[]", null)]
        [InlineData("mnt:[4026531833]", null)]
        [InlineData("net:[12x]", null)]
        [InlineData("net:[4026531833", null)]
        public void TheNamespaceLinkGivesItsInode(string link, ulong? inode) =>
            Assert.Equal(inode, LinuxNetworkNamespace.ParseNamespaceLink(link));

        [Fact]
        public void TheCommandThatClosesItThereNamesTheHostTheCallerReachedAndTheSocket()
        {
            var c = Listed(Boot, 1);
            c.ReachedAs = "10.1.2.3";
            Assert.Equal(
                "Invoke-Command -HostName 10.1.2.3 { Get-TcpConnection -State CloseWait -LocalAddress 10.0.0.5 -LocalPort 8080 -RemoteAddress 10.0.0.9 -RemotePort 50000 | Close-TcpConnection }",
                CloseTcpConnectionCommand.CloseThere(c));
            c.ReachedAs = null;
            Assert.StartsWith("Invoke-Command -HostName web01 {", CloseTcpConnectionCommand.CloseThere(c));
        }

        [Fact]
        public void ARecordKeepsWhereItWasListedAndTheNameTheCallerReachedItBy()
        {
            var o = new PSObject();
            foreach (var (name, value) in new (string, object)[]
            {
                ("AddressFamily", "InterNetwork"), ("LocalAddress", "10.0.0.5"), ("LocalPort", "8080"),
                ("RemoteAddress", "10.0.0.9"), ("RemotePort", "50000"), ("State", "CloseWait"), ("Cookie", "42"),
                ("ComputerName", "web01"), ("BootId", Boot), ("NetworkNamespaceId", "4026531833"), ("PSComputerName", "10.1.2.3"),
            })
            {
                o.Properties.Add(new PSNoteProperty(name, value));
            }

            var c = TcpConnectionInput.FromRecord(o);
            Assert.Equal(("web01", Boot, (ulong?)4026531833UL, "10.1.2.3"), (c.ComputerName, c.BootId, c.NetworkNamespaceId, c.ReachedAs));
        }

        [Theory]
        [InlineData(typeof(TcpConnection))]
        [InlineData(typeof(TcpCloseWaitDiagnosis))]
        [InlineData(typeof(TcpCloseWaitEvent))]
        [InlineData(typeof(TcpCloseResult))]
        [InlineData(typeof(TcpProcessSummary))]
        public void EveryPublicPropertyCrossesRemotingAndNoneIsProcessName(Type type)
        {
            // A property added to the type and not to its serialization set would silently not cross.
            var dir = new System.IO.DirectoryInfo(AppContext.BaseDirectory);
            while (dir != null && !System.IO.File.Exists(System.IO.Path.Combine(dir.FullName, "src/CloseWait/CloseWait.Types.ps1xml")))
            {
                dir = dir.Parent;
            }

            Assert.NotNull(dir);
            string types = System.IO.Path.Combine(dir!.FullName, "src/CloseWait/CloseWait.Types.ps1xml");
            var set = XDocument.Load(types).Descendants("Type")
                .Single(t => (string?)t.Element("Name") == type.FullName)
                .Descendants("PropertySet").Single(p => (string?)p.Element("Name") == "PropertySerializationSet")
                .Descendants("Name").Select(n => n.Value).ToHashSet();
            var expected = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Select(p => p.Name).ToHashSet();
            Assert.Empty(expected.Except(set));

            // Stop-Process binds -Name from ProcessName or Name (every process of that name).
            Assert.DoesNotContain("ProcessName", expected);
            Assert.DoesNotContain("Name", expected);
            Assert.Equal(typeof(ProcessReference), type.GetProperty("Id")!.PropertyType);
        }
    }
}
