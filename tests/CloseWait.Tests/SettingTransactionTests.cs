using System;
using System.IO;
using CloseWait.Platform.Linux;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>Issue 20: Set-TcpKeepAliveSetting and Set-TcpTimeWaitSetting write exactly the plan they confirmed, or nothing when the values moved since they read them.</summary>
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

        [Fact]
        public void ATimeWaitWriteFailsAndChangesNothingWhenTheValuesMovedSinceThePlan()
        {
            string root = Path.Combine(Path.GetTempPath(), "cw-twtx-" + Guid.NewGuid().ToString("N"));
            string proc = Path.Combine(root, "proc"), net = Path.Combine(root, "net");
            Directory.CreateDirectory(proc);
            Directory.CreateDirectory(net);
            try
            {
                File.WriteAllText(Path.Combine(proc, "ip_local_port_range"), "32768\t60999\n");
                File.WriteAllText(Path.Combine(proc, "ip_local_reserved_ports"), "\n");
                File.WriteAllText(Path.Combine(proc, "tcp_tw_reuse"), "2\n");
                File.WriteAllText(Path.Combine(proc, "tcp_max_tw_buckets"), "4096\n");
                File.WriteAllText(Path.Combine(proc, "tcp_fin_timeout"), "60\n");
                var store = new LinuxTimeWaitStore(proc, net, Path.Combine(root, "config"));
                var plan = TimeWaitPlan.Make(store, new TimeWaitChange { TimeWaitReuse = 1, MaxTimeWaitBuckets = 8192 }, null);

                // Someone reserves ports between the read (and the prompt) and the write: the confirmed plan no longer applies.
                File.WriteAllText(Path.Combine(proc, "ip_local_reserved_ports"), "40000\n");
                var e = Assert.Throws<CloseWaitException>(() => plan.Apply(persist: false, readBack: false));
                Assert.Equal(ErrorIds.TimeWaitChangedMeanwhile, e.ErrorId);
                Assert.Contains("ReservedPorts changed from none to 40000", e.Message);
                Assert.Equal("2", File.ReadAllText(Path.Combine(proc, "tcp_tw_reuse")).Trim());
                Assert.Equal("4096", File.ReadAllText(Path.Combine(proc, "tcp_max_tw_buckets")).Trim());

                // Planned again from what is there now, it goes through, and the values after it come back from the same write.
                var after = TimeWaitPlan.Make(store, new TimeWaitChange { TimeWaitReuse = 1, MaxTimeWaitBuckets = 8192 }, null).Apply(persist: false, readBack: true);
                Assert.Equal((1, 8192), (after!.TimeWaitReuse!.Value, after.MaxTimeWaitBuckets!.Value));
                Assert.Equal("1", File.ReadAllText(Path.Combine(proc, "tcp_tw_reuse")).Trim());
            }
            finally
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }
}
