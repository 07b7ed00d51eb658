using System;
using System.Diagnostics;
using System.Management.Automation;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>The Id of every output: the PID for Stop-Process only while the listed process is the one running.</summary>
    public class ProcessReferenceTests
    {
        [Fact]
        public void ALiveListingConvertsToThePid()
        {
            int pid = ProcessReference.Listed(Environment.ProcessId);
            Assert.Equal(Environment.ProcessId, pid);
            Assert.Equal(Environment.ProcessId, LanguagePrimitives.ConvertTo<int>(ProcessReference.Listed(Environment.ProcessId)));
        }

        [Fact]
        public void APidThatNowNamesAProcessStartedAfterTheListingIsRefused()
        {
            // As if this process had reused the PID of one listed before it started.
            DateTime started = Process.GetCurrentProcess().StartTime.ToUniversalTime();
            var stale = ProcessReference.ListedAt(Environment.ProcessId, started.AddMinutes(-1));
            var e = Assert.Throws<InvalidOperationException>(() => (int)stale);
            Assert.Contains("has exited since it was listed", e.Message);
            Assert.Throws<PSInvalidCastException>(() => LanguagePrimitives.ConvertTo<int>(stale));
        }

        [Fact]
        public void ARecordRebuiltFromTextOrWithoutOwnerNeverConverts()
        {
            Assert.Throws<InvalidOperationException>(() => (int)new TcpSocketOwner(Environment.ProcessId, "x", 3).Id);
            var none = ProcessReference.NotListed(null, "h");
            Assert.Equal("none@h", none.ToString());
            Assert.Throws<InvalidOperationException>(() => (int)none);
        }

        [Theory]
        [InlineData(1234, "web01", "1234@web01")]
        [InlineData(7, "0x10", "7@0x10")]
        public void TheTextIsNoNumberForPowerShell(int pid, string host, string expected)
        {
            var r = ProcessReference.NotListed(pid, host);
            Assert.Equal(expected, r.ToString());
            Assert.False(LanguagePrimitives.TryConvertTo<int>(r.ToString(), out _));
            Assert.False(LanguagePrimitives.TryConvertTo<long>(" " + r.ToString() + " ", out _));
        }
    }
}
