using System;
using System.Management.Automation;
using System.Net.Sockets;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>Connections rebuilt from records that lost their type (remoting, PSSerializer, Import-Csv).</summary>
    public sealed class CloseTcpConnectionInputTests
    {
        private static PSObject Record(string typeName, params (string Name, object? Value)[] properties)
        {
            var o = new PSObject();
            foreach (var (name, value) in properties)
            {
                o.Properties.Add(new PSNoteProperty(name, value));
            }

            o.TypeNames.Insert(0, typeName);
            return o;
        }

        private static PSObject CsvRow(string localAddress = "::ffff:10.0.0.5", string family = "InterNetworkV6", string cookie = "", string localPort = "8080") =>
            Record("CSV:CloseWait.TcpConnection",
                ("AddressFamily", family), ("LocalAddress", localAddress), ("LocalPort", localPort),
                ("RemoteAddress", "::ffff:10.0.0.9"), ("RemotePort", "50000"), ("State", "CloseWait"),
                ("ProcessId", "321"), ("ProcessName", "java"), ("Inode", "98765"), ("Cookie", cookie),
                ("InterfaceIndex", "0"), ("NetworkNamespace", ""), ("IdleTime", "00:31:00"));

        [Fact]
        public void ACsvRowOfStringsBecomesAConnectionWithEmptyCellsAsNull()
        {
            var c = TcpConnectionInput.FromRecord(CsvRow());
            Assert.Equal(AddressFamily.InterNetworkV6, c.AddressFamily);
            Assert.Equal("::ffff:10.0.0.5", c.LocalAddress);
            Assert.True(c.LocalIPAddress.IsIPv4MappedToIPv6);
            Assert.Equal(8080, c.LocalPort);
            Assert.Equal(50000, c.RemotePort);
            Assert.Equal(TcpState.CloseWait, c.State);
            Assert.Equal(321, c.ProcessId);
            Assert.Equal(98765UL, c.Inode);
            Assert.Null(c.Cookie);
            Assert.Null(c.NetworkNamespace);
            Assert.Equal(TimeSpan.FromMinutes(31), c.IdleTime);
            Assert.Empty(c.Owners);
        }

        [Fact]
        public void OwnersSentAsTheirTextAtDepthOneKeepPidAndDescriptor()
        {
            var o = CsvRow(cookie: "4096");
            o.Properties.Remove("Owners");
            o.Properties.Add(new PSNoteProperty("Owners", new object[] { "321/java (fd 17)", "400/?", "not an owner" }));
            var c = TcpConnectionInput.FromRecord(o);
            Assert.Equal(4096UL, c.Cookie);
            Assert.Equal(2, c.Owners.Length);
            Assert.Equal((321, "java", (int?)17), (c.Owners[0].ProcessId, c.Owners[0].ProcessName, c.Owners[0].FileDescriptor));
            Assert.Equal((400, (string?)null, (int?)null), (c.Owners[1].ProcessId, c.Owners[1].ProcessName, c.Owners[1].FileDescriptor));
        }

        [Theory]
        [InlineData("nope", "InterNetworkV6", "8080", "LocalAddress 'nope' is not an IP address")]
        [InlineData("10.0.0.5", "InterNetworkV6", "8080", "does not match")]
        [InlineData("::ffff:10.0.0.5", "InterNetworkV6", "70000", "not a TCP port")]
        [InlineData("::ffff:10.0.0.5", "InterNetworkV6", "", "LocalPort property is missing")]
        public void MalformedRecordsSayWhichPropertyIsWrong(string local, string family, string port, string message)
        {
            var e = Assert.Throws<FormatException>(() => TcpConnectionInput.FromRecord(CsvRow(local, family, localPort: port)));
            Assert.Contains(message, e.Message);
        }

        [Theory]
        [InlineData("en-US")]
        [InlineData("en-GB")]
        [InlineData("de-DE")]
        public void ACsvCreationTimeIsReadInTheCultureExportCsvWroteItIn(string culture)
        {
            var created = new DateTime(2026, 11, 3, 14, 5, 6);
            var saved = System.Globalization.CultureInfo.CurrentCulture;
            try
            {
                System.Globalization.CultureInfo.CurrentCulture = new System.Globalization.CultureInfo(culture);
                var row = CsvRow();
                row.Properties.Add(new PSNoteProperty("CreationTime", created.ToString()));
                Assert.Equal(created, TcpConnectionInput.FromRecord(row).CreationTime);
            }
            finally
            {
                System.Globalization.CultureInfo.CurrentCulture = saved;
            }
        }

        [Theory]
        [InlineData("Deserialized.CloseWait.TcpConnection", true)]
        [InlineData("CSV:CloseWait.TcpConnection", true)]
        [InlineData("CloseWait.TcpConnection", true)]
        [InlineData("Deserialized.Other.TcpConnection", false)]
        [InlineData("NotCloseWait.TcpConnection", false)]
        [InlineData("System.Management.Automation.PSCustomObject", false)]
        public void OnlyRecordsOfConnectionsAreRebuilt(string typeName, bool expected)
        {
            Assert.Equal(expected, TcpConnectionInput.IsConnectionRecord(Record(typeName)));
        }
    }
}
