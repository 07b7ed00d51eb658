using System;
using System.Linq;
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
        public void JsonNumbersForStateAndFamilyAreTakenWhenTheyNameAValue()
        {
            // ConvertTo-Json of a local connection writes "AddressFamily": 23 and "State": 8.
            var o = CsvRow();
            o.Properties.Remove("AddressFamily");
            o.Properties.Add(new PSNoteProperty("AddressFamily", 23L));
            o.Properties.Remove("State");
            o.Properties.Add(new PSNoteProperty("State", 8L));
            var c = TcpConnectionInput.FromRecord(o);
            Assert.Equal(AddressFamily.InterNetworkV6, c.AddressFamily);
            Assert.Equal(TcpState.CloseWait, c.State);

            o.Properties.Remove("State");
            o.Properties.Add(new PSNoteProperty("State", 99L));
            Assert.Contains("State '99' is not a TcpState name", Assert.Throws<FormatException>(() => TcpConnectionInput.FromRecord(o)).Message);
            o.Properties.Remove("State");
            o.Properties.Add(new PSNoteProperty("State", 8L));
            o.Properties.Remove("AddressFamily");
            o.Properties.Add(new PSNoteProperty("AddressFamily", 1L));
            Assert.Contains("AddressFamily '1' is not a AddressFamily name", Assert.Throws<FormatException>(() => TcpConnectionInput.FromRecord(o)).Message);
        }

        [Fact]
        public void OwnersSentAsTheirTextAtDepthOneKeepPidAndDescriptor()
        {
            var o = CsvRow(cookie: "4096");
            o.Properties.Remove("Owners");
            o.Properties.Add(new PSNoteProperty("Owners", new object[] { "321/java (fd 17)", "400/?" }));
            var c = TcpConnectionInput.FromRecord(o);
            Assert.Equal(4096UL, c.Cookie);
            Assert.Equal(2, c.Owners.Length);
            Assert.Equal((321, "java", (int?)17), (c.Owners[0].ProcessId, c.Owners[0].Program, c.Owners[0].FileDescriptor));
            Assert.Equal((400, (string?)null, (int?)null), (c.Owners[1].ProcessId, c.Owners[1].Program, c.Owners[1].FileDescriptor));
        }

        [Theory]
        [InlineData("nope", "InterNetworkV6", "8080", "LocalAddress 'nope' is not an IP address: give one such as 10.0.0.5 or ::1")]
        [InlineData("10.0.0.5", "InterNetworkV6", "8080", "does not match the addresses 10.0.0.5 and ::ffff:10.0.0.9: give InterNetwork for IPv4")]
        [InlineData("::ffff:10.0.0.5", "InterNetworkV6", "70000", "LocalPort 70000 is out of range: give a whole number from 0 to 65535")]
        [InlineData("::ffff:10.0.0.5", "InterNetworkV6", "", "The LocalPort property is missing: give a whole number from 0 to 65535")]
        [InlineData("::ffff:10.0.0.5", "InterNetworkV6", "80x", "LocalPort '80x' is not a whole number: give a whole number from 0 to 65535")]
        [InlineData("::ffff:10.0.0.5", "InterNetworkV6", "0x50", "LocalPort '0x50' is not a whole number")]
        [InlineData("::ffff:10.0.0.5", "InterNetworkV6", "99999999999999999999999", "LocalPort 99999999999999999999999 is out of range")]
        [InlineData("::ffff:10.0.0.5", "23", "8080", "AddressFamily '23' is not a AddressFamily name: give one of InterNetwork, InterNetworkV6")]
        [InlineData("010.0.0.5", "InterNetwork", "8080", "LocalAddress '010.0.0.5' is not an IP address")]
        [InlineData("10.1", "InterNetwork", "8080", "LocalAddress '10.1' is not an IP address")]
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

        /// <summary>Every hand-edited column names itself and what to give; no .NET conversion text gets through.</summary>
        [Theory]
        [InlineData("Owners", "99999999999/x (fd 3)", "Owners '99999999999/x (fd 3)': the process ID 99999999999 is out of range: give a whole number from 0 to 2147483647")]
        [InlineData("Owners", "12/x (fd 99999999999)", "Owners '12/x (fd 99999999999)': the descriptor 99999999999 is out of range")]
        [InlineData("Owners", "not an owner", "Owners 'not an owner' is not an owner: give 'PID/name' or 'PID/name (fd N)'")]
        [InlineData("Cookie", "x", "Cookie 'x' is not a whole number: give a whole number from 0 to 18446744073709551615")]
        [InlineData("Cookie", "-1", "Cookie -1 is out of range")]
        [InlineData("Cookie", "18446744073709551615", "Cookie 18446744073709551615 is the kernel's 'no cookie' value")]
        [InlineData("Inode", "1.5", "Inode '1.5' is not a whole number")]
        [InlineData("ProcessId", "-4", "ProcessId -4 is out of range: give a whole number from 0 to 2147483647")]
        [InlineData("ProcessId", "99999999999", "ProcessId 99999999999 is out of range")]
        [InlineData("ReceiveQueue", "-1", "ReceiveQueue -1 is out of range")]
        [InlineData("UserId", "abc", "UserId 'abc' is not a whole number")]
        [InlineData("State", "8", "State '8' is not a TcpState name: give one of Closed, Listen")]
        [InlineData("State", "CloseWait,Listen", "State 'CloseWait,Listen' is not a TcpState name")]
        [InlineData("State", "", "The State property is missing: give one of Closed, Listen")]
        [InlineData("IdleTime", "soon", "IdleTime 'soon' is not a time span: give seconds (300) or hh:mm:ss (00:05:00)")]
        [InlineData("IdleTime", "-00:05:00", "IdleTime -00:05:00 is negative")]
        [InlineData("IdleTime", "1e300", "IdleTime '1e300' is not a time span")]
        [InlineData("CreationTime", "yesterday", "CreationTime 'yesterday' is not a date")]
        public void EveryEditedColumnIsNamedWithWhatToGive(string column, string value, string message)
        {
            var row = CsvRow(cookie: "4096");
            row.Properties.Remove(column);
            row.Properties.Add(new PSNoteProperty(column, value));
            var e = Assert.Throws<FormatException>(() => TcpConnectionInput.FromRecord(row));
            Assert.Contains(message, e.Message);
            Assert.DoesNotContain("Input string", e.Message);
            Assert.DoesNotContain("too large or too small", e.Message);
            Assert.DoesNotContain("Cannot convert", e.Message);
        }

        [Theory]
        [InlineData("IdleTime", "300", "00:05:00")]
        [InlineData("IdleTime", "00:05:00", "00:05:00")]
        [InlineData("Owners", "CloseWait.TcpSocketOwner[]", "")]
        [InlineData("Owners", "12/nginx (fd 7)", "12/nginx (fd 7)")]
        [InlineData("State", "closewait", "CloseWait")]
        public void CellsAreReadAsTheCmdletsReadThem(string column, string value, string expected)
        {
            var row = CsvRow(cookie: "4096");
            row.Properties.Remove(column);
            row.Properties.Add(new PSNoteProperty(column, value));
            var c = TcpConnectionInput.FromRecord(row);
            string actual = column switch
            {
                "IdleTime" => c.IdleTime.ToString()!,
                "Owners" => string.Join(",", c.Owners.Select(o => o.ToString())),
                _ => c.State.ToString(),
            };
            Assert.Equal(expected, actual);
        }
    }
}
