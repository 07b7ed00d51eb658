using System;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>The short texts of the table views: endpoints keep their port, durations fit 6 characters.</summary>
    public sealed class DisplayTextTests
    {
        [Theory]
        [InlineData("127.0.0.1", 8080, 21, "127.0.0.1:8080")]
        [InlineData("255.255.255.255", 65535, 21, "255.255.255.255:65535")]
        [InlineData("::1", 443, 21, "[::1]:443")]
        [InlineData("2001:db8:1234:5678:9abc:def0:1234:5678", 65535, 21, "[2001:…:5678]:65535")]
        [InlineData("2001:db8:1234:5678:9abc:def0:1234:5678", 443, 30, "[2001:db8:…:1234:5678]:443")]
        [InlineData("fe80::1c2d:3e4f:5a6b:7c8d%2", 22, 21, "[fe80::…:7c8d%2]:22")]
        [InlineData("2001:db8:1234:5678:9abc:def0:1234:5678", 443, 21, "[2001:db8:…:5678]:443")]
        [InlineData("::ffff:192.168.100.200", 65535, 21, "[…168.100.200]:65535")]
        [InlineData("::ffff:10.0.0.5", 8080, 22, "[::ffff:10.0.0.5]:8080")]
        [InlineData("", 0, 21, "")]
        public void EndPointShortensTheAddressNeverThePort(string address, int port, int width, string expected)
        {
            string text = DisplayText.EndPoint(address, port, width);
            Assert.Equal(expected, text);
            Assert.True(text.Length <= width, $"{text} is longer than {width}");
        }

        [Theory]
        [InlineData(0.25, "250ms")]
        [InlineData(45, "45s")]
        [InlineData(725, "12m05s")]
        [InlineData(3 * 3600 + 7 * 60 + 59, "3h07m")]
        [InlineData(2 * 86400 + 4 * 3600, "2d04h")]
        [InlineData(365 * 86400.0, "365d")]
        [InlineData(-2, "-2s")]
        public void DurationIsCompactAndExactToItsUnit(double seconds, string expected)
        {
            Assert.Equal(expected, DisplayText.Duration(TimeSpan.FromSeconds(seconds)));
        }

        [Fact]
        public void NoDurationIsBlank() => Assert.Equal(string.Empty, DisplayText.Duration(null));
    }
}
