using System.Linq;
using System;
using System.Diagnostics;
using System.IO;
using CloseWait.Platform;
using CloseWait.Platform.Linux;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>The open descriptor count and limit of a real child process with known descriptors.</summary>
    public sealed class ProcessDescriptorsTests
    {
        [Fact]
        public void CountsAChildsDescriptorsAndReadsItsSoftLimit()
        {
            if (!OperatingSystem.IsLinux())
            {
                Assert.False(PlatformServices.ProcessDescriptors.TryGet(Environment.ProcessId, out _, out _));
                return;
            }

            // Two children that inherit the same descriptors from the test host; one opens 20 more
            // and lowers its soft limit to 777, the other keeps the limit it inherits.
            using var plain = StartShell("ulimit -S -n 4096; echo ready; exec sleep 30");
            using var more = StartShell("for fd in $(seq 20 39); do eval \"exec $fd</dev/null\"; done; ulimit -S -n 777; echo ready; exec sleep 30");
            try
            {
                // The count agrees with a listing of the same moment (a table can change between two
                // reads: wait until one count and one listing agree, as they never would if the count were wrong).
                int baseline = 0, open = 0;
                long? plainLimit = null, limit = null;
                Assert.True(SpinWaitFor(() =>
                    PlatformServices.ProcessDescriptors.TryGet(plain.Id, out baseline, out plainLimit)
                    && PlatformServices.ProcessDescriptors.TryGet(more.Id, out open, out limit)
                    && baseline == Directory.GetFileSystemEntries($"/proc/{plain.Id}/fd").Length
                    && open == Directory.GetFileSystemEntries($"/proc/{more.Id}/fd").Length), "the children's descriptor tables never settled");
                // The children inherit whatever the test host had open without close-on-exec when each
                // was forked (other threads' descriptors come and go), so compare each with its own table.
                var numbers = Directory.GetFileSystemEntries($"/proc/{more.Id}/fd").Select(f => int.Parse(Path.GetFileName(f), System.Globalization.CultureInfo.InvariantCulture)).ToList();
                Assert.Equal(20, numbers.Count(n => n >= 20 && n <= 39));
                Assert.Equal(4096, plainLimit);
                Assert.Equal(777, limit);
            }
            finally
            {
                Stop(plain);
                Stop(more);
            }
        }

        private static Process StartShell(string script)
        {
            var psi = new ProcessStartInfo("bash")
            {
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
            };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add(script);
            var p = Process.Start(psi)!;
            Assert.Equal("ready", p.StandardOutput.ReadLine());
            Assert.True(SpinWaitFor(() => TestNative.Comm(p.Id) == "sleep"), "the child never became sleep");
            WaitAsleep(p);
            return p;
        }

        private static void Stop(Process p)
        {
            p.Kill();
            p.WaitForExit(5000);
        }

        [Fact]
        public void TheDirectoryCountAgreesWithTheKernelsSize()
        {
            if (!OperatingSystem.IsLinux())
            {
                return;
            }

            using var child = Process.Start(new ProcessStartInfo("sleep", "30") { UseShellExecute = false, RedirectStandardInput = true })!;
            try
            {
                // Between fork and exec the child still holds the test host's close-on-exec descriptors.
                Assert.True(SpinWaitFor(() => TestNative.Comm(child.Id) == "sleep"), "the child never became sleep");
                WaitAsleep(child);
                string fdDir = $"/proc/{child.Id}/fd";
                long listed = -1, kernel = -2, walked = -3;
                bool agree = SpinWaitFor(() =>
                {
                    listed = Directory.GetFileSystemEntries(fdDir).Length;
                    kernel = LinuxProcessDescriptors.CountOpen(child.Id);
                    walked = LinuxProcessDescriptors.CountOpen(child.Id, kernelSize: false);
                    return listed == kernel && listed == walked;
                });
                Assert.True(agree, $"listed {listed}, kernel size {kernel}, walked {walked}");
            }
            finally
            {
                child.Kill();
                child.WaitForExit(5000);
            }
        }

        [Fact]
        public void AGoneProcessIsFalse()
        {
            Assert.False(new LinuxProcessDescriptors().TryGet(int.MaxValue, out int open, out long? limit));
            Assert.Equal(0, open);
            Assert.Null(limit);
        }

        [Theory]
        [InlineData("Max open files            1024                 524288               files     ", true, 1024L)]
        [InlineData("Max open files            unlimited            unlimited            files     ", true, null)]
        [InlineData("Max processes             63427                63427                processes ", false, null)]
        [InlineData("Max open files", false, null)]
        public void ParsesTheOpenFilesLine(string line, bool found, long? soft)
        {
            string text = "Limit                     Soft Limit           Hard Limit           Units     \n" + line + "\n";
            Assert.Equal(found, LinuxProcessDescriptors.ParseOpenFilesLimit(new StringReader(text), out long? parsed));
            Assert.Equal(soft, parsed);
        }

        /// <summary>
        /// Waits until the child sleeps in nanosleep: the kernel names the new program (comm) before
        /// exec closes the close-on-exec descriptors, so only then is its table final.
        /// </summary>
        private static void WaitAsleep(Process p)
        {
            string wchan = $"/proc/{p.Id}/wchan";
            Assert.True(SpinWaitFor(() => !File.Exists(wchan) || File.ReadAllText(wchan) is string w && (w == "0" || w.Contains("nanosleep"))), "the child never slept");
        }

        private static bool SpinWaitFor(Func<bool> condition) =>
            System.Threading.SpinWait.SpinUntil(() =>
            {
                try
                {
                    return condition();
                }
                catch (IOException)
                {
                    return false;
                }
            }, TimeSpan.FromSeconds(5));
    }
}
