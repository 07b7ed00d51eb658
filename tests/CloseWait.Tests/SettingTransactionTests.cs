using System;
using System.IO;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>Issue 20: Set-TcpKeepAliveSetting writes exactly the plan it confirmed, or nothing when the values moved since it read them.</summary>
    public sealed class SettingTransactionTests
    {
        [Fact]
        public void AWriteFailsAndChangesNothingWhenTheValuesMovedSinceThePlan()
        {
            using var tree = new ScratchSysctlTree(time: 300, interval: 75, probes: 5);
            var store = tree.Store();
            var planned = store.Read(null);

            // Someone else changes the interval between the read (and the prompt) and the write.
            File.WriteAllText(Path.Combine(tree.Proc, "tcp_keepalive_intvl"), "60\n");
            var e = Assert.Throws<CloseWaitException>(() => store.Write(new KeepAliveChange(TimeSpan.FromSeconds(600), null, null), null, planned));
            Assert.Equal(ErrorIds.KeepAliveChangedMeanwhile, e.ErrorId);
            Assert.Equal("300", File.ReadAllText(Path.Combine(tree.Proc, "tcp_keepalive_time")).Trim());

            // Planned from what is there now, it goes through.
            store.Write(new KeepAliveChange(TimeSpan.FromSeconds(600), null, null), null, store.Read(null));
            Assert.Equal("600", File.ReadAllText(Path.Combine(tree.Proc, "tcp_keepalive_time")).Trim());
        }
    }
}
