using System;
using System.Net;
using Xunit;

namespace CloseWait.Tests
{
    public sealed class IPPrefixTests
    {
        [Theory]
        [InlineData("10.0.0.0/8", "10.200.3.4", true)]
        [InlineData("10.0.0.0/8", "11.0.0.1", false)]
        [InlineData("10.0.0.0/8", "::ffff:10.9.9.9", true)]
        [InlineData("127.0.0.1", "127.0.0.1", true)]
        [InlineData("127.0.0.1", "127.0.0.2", false)]
        [InlineData("192.168.1.128/25", "192.168.1.200", true)]
        [InlineData("192.168.1.128/25", "192.168.1.127", false)]
        [InlineData("0.0.0.0/0", "8.8.8.8", true)]
        [InlineData("0.0.0.0/0", "::1", false)]
        [InlineData("fe80::/10", "fe80::1", true)]
        [InlineData("fe80::/10", "fec0::1", false)]
        [InlineData("::1", "::1", true)]
        [InlineData("[::1]", "::1", true)]
        [InlineData("::ffff:10.0.0.0/104", "10.1.1.1", true)]
        [InlineData("::ffff:10.0.0.0/104", "11.1.1.1", false)]
        public void ContainsFollowsThePrefix(string prefix, string address, bool expected)
        {
            Assert.Equal(expected, IPPrefix.Parse(prefix).Contains(IPAddress.Parse(address)));
        }

        [Theory]
        [InlineData("")]
        [InlineData("nope")]
        [InlineData("10.0.0.0/33")]
        [InlineData("::/129")]
        [InlineData("10.0.0.0/x")]
        [InlineData("10.1")]
        [InlineData("10.0.0.0/-1")]
        public void BadTextIsAFormatErrorThatSaysWhatToGive(string text)
        {
            var e = Assert.Throws<FormatException>(() => IPPrefix.Parse(text));
            Assert.Matches("address|prefix", e.Message);
        }

        [Theory]
        [InlineData("010.1.1.1", "10.1.1.1")]
        [InlineData("192.168.001.010/24", "192.168.1.10/24")]
        [InlineData("0x0a.0.0.1", null)]
        public void IPv4PartsThatAnIPParserWouldNotReadAsDecimalAreRefused(string text, string? suggestion)
        {
            // IPAddress.Parse reads 010 as octal (8) and 0x0a as hex: -RemoteAddress 010.1.1.1 would select 8.1.1.1.
            var e = Assert.Throws<FormatException>(() => IPPrefix.Parse(text));
            Assert.Contains($"'{text}'", e.Message);
            if (suggestion != null)
            {
                Assert.Contains($"write {suggestion}", e.Message);
            }
        }
    }
}
