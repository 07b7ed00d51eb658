using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using CloseWait.Platform.Linux;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>
    /// Issue 19 item 9: the thread that joins a namespace may sit in a kernel call no token reaches
    /// (a netlink receive waits up to its 10 s timeout); Ctrl+C (the command's token) returns at once.
    /// </summary>
    public sealed class NamespaceRunCancellationTests
    {
        private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(2);

        private static bool CanJoin => RuntimeInformation.IsOSPlatform(OSPlatform.Linux) && Environment.UserName == "root";

        [Fact]
        public void RunReturnsOnCancellationWhileTheNamespaceThreadIsBlocked()
        {
            if (!CanJoin)
            {
                return;
            }

            using var entered = new ManualResetEventSlim(false);
            using var release = new ManualResetEventSlim(false);
            using var cts = new CancellationTokenSource();
            var target = NamespaceTarget.Of("/proc/self/ns/net");
            Exception? thrown = null;
            var caller = new Thread(() =>
            {
                try
                {
                    LinuxNetworkNamespace.Run(target, () =>
                    {
                        entered.Set();
                        release.Wait(TimeSpan.FromSeconds(30)); // a kernel call that ignores the token
                        return 1;
                    }, cts.Token);
                }
                catch (Exception e)
                {
                    thrown = e;
                }
            });
            caller.Start();
            Assert.True(entered.Wait(TimeSpan.FromSeconds(30)), "the namespace thread started");
            cts.Cancel();
            bool returned = caller.Join(Prompt);
            release.Set();
            caller.Join();
            Assert.True(returned, $"Run returned within {Prompt} of the cancellation");
            Assert.IsAssignableFrom<OperationCanceledException>(thrown);
        }

        [Fact]
        public void StreamReturnsOnCancellationWhileTheProducerIsBlocked()
        {
            if (!CanJoin)
            {
                return;
            }

            using var entered = new ManualResetEventSlim(false);
            using var release = new ManualResetEventSlim(false);
            using var cts = new CancellationTokenSource();
            var target = NamespaceTarget.Of("/proc/self/ns/net");
            IEnumerable<int> Producer(CancellationToken _)
            {
                yield return 1;
                entered.Set();
                release.Wait(TimeSpan.FromSeconds(30));
                yield return 2;
            }

            Exception? thrown = null;
            var caller = new Thread(() =>
            {
                try
                {
                    foreach (var _ in LinuxNetworkNamespace.Stream(target, Producer, cts.Token))
                    {
                    }
                }
                catch (Exception e)
                {
                    thrown = e;
                }
            });
            caller.Start();
            Assert.True(entered.Wait(TimeSpan.FromSeconds(30)), "the producer started");
            cts.Cancel();
            bool returned = caller.Join(Prompt);
            release.Set();
            caller.Join();
            Assert.True(returned, $"the stream ended within {Prompt} of the cancellation");
            Assert.IsAssignableFrom<OperationCanceledException>(thrown);
        }
    }
}
