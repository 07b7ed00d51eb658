using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Runtime.InteropServices;
using System.Threading;
using CloseWait.Platform;
using CloseWait.Platform.Linux;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>
    /// The owner walk reads descriptors by number while the table is dense and lists the directory
    /// for the rest of a sparse one: a socket on a far descriptor must still be found, once.
    /// </summary>
    public sealed class LinuxOwnerResolverTests
    {
        [DllImport("libc", SetLastError = true)]
        private static extern int dup2(int oldfd, int newfd);

        [DllImport("libc", SetLastError = true)]
        private static extern int close(int fd);

        [DllImport("libc", SetLastError = true)]
        private static extern int open(string path, int flags);

        /// <summary>
        /// The open count is read before the scan; a descriptor opened meanwhile takes a low number.
        /// With one churning descriptor and the socket at 9000, reaching the count must not stop
        /// the walk: the owner is found in every walk, while processes also start and exit (/bin/true).
        /// </summary>
        [Fact]
        public void ChurningDescriptorsAndExitingProcessesLoseNoOwner()
        {
            using var s = LoopbackSockets.CloseWait(IPAddress.Loopback);
            const int FarFd = 9000;
            Assert.Equal(FarFd, dup2((int)s.ServerSockets[0].Handle, FarFd));
            using var stop = new CancellationTokenSource();
            var churn = new Thread(() =>
            {
                while (!stop.IsCancellationRequested)
                {
                    int fd = open("/dev/null", 0);
                    if (fd >= 0)
                    {
                        close(fd);
                    }
                }
            }) { IsBackground = true };
            var spawner = new Thread(() =>
            {
                while (!stop.IsCancellationRequested)
                {
                    using var p = Process.Start(new ProcessStartInfo("/bin/true") { UseShellExecute = false });
                    p!.WaitForExit(10000);
                }
            }) { IsBackground = true };
            try
            {
                var table = new LinuxSocketTable { ForcedBackend = LinuxTableBackend.Netlink };
                var c = table.Read(new SocketQuery { States = new[] { TcpState.CloseWait }, LocalPorts = new[] { s.Port } }, CancellationToken.None).Single();
                ulong inode = c.Inode!.Value;
                churn.Start();
                spawner.Start();

                const int Walks = 40;
                int found = 0;
                var resolver = new LinuxOwnerResolver();
                for (int i = 0; i < Walks; i++)
                {
                    var walk = resolver.FindOwners(x => x == inode, CancellationToken.None);
                    if (walk.Found.Any(f => f.Pid == Environment.ProcessId && f.Fd == FarFd))
                    {
                        found++;
                    }
                }

                Assert.Equal(Walks, found);
            }
            finally
            {
                stop.Cancel();
                churn.Join();
                spawner.Join();
                close(FarFd);
            }
        }

        [Fact]
        public void FindsEveryDescriptorOfASocketNearAndFar()
        {
            using var s = LoopbackSockets.CloseWait(IPAddress.Loopback, count: 2);
            int nearFd = (int)s.ServerSockets[0].Handle;
            // Far past the open count, so the walk leaves reading by number for the listing.
            const int FarFd = 4000;
            Assert.Equal(FarFd, dup2(nearFd, FarFd));
            try
            {
                var table = new LinuxSocketTable { ForcedBackend = LinuxTableBackend.Netlink };
                var mine = table.Read(new SocketQuery { States = new[] { TcpState.CloseWait }, LocalPorts = new[] { s.Port } }, CancellationToken.None).ToList();
                Assert.Equal(2, mine.Count);

                new LinuxOwnerResolver().Resolve(mine, CancellationToken.None);

                int self = Environment.ProcessId;
                var shared = mine.Single(c => c.RemotePort == s.ClientPorts[0]);
                Assert.Equal(new int?[] { nearFd, FarFd }, shared.Owners.Where(o => o.ProcessId == self).Select(o => o.FileDescriptor).ToArray());
                var single = mine.Single(c => c.RemotePort == s.ClientPorts[1]);
                Assert.Equal(new int?[] { (int)s.ServerSockets[1].Handle }, single.Owners.Where(o => o.ProcessId == self).Select(o => o.FileDescriptor).ToArray());
                Assert.Equal(self, shared.ProcessId);
                Assert.Equal(Process.GetCurrentProcess().ProcessName, shared.Program);
            }
            finally
            {
                close(FarFd);
            }
        }

        [Fact]
        public void LooksOnlyInTheProcessesGiven()
        {
            using var s = LoopbackSockets.CloseWait(IPAddress.Loopback);
            var table = new LinuxSocketTable { ForcedBackend = LinuxTableBackend.Netlink };
            var query = new SocketQuery { States = new[] { TcpState.CloseWait }, LocalPorts = new[] { s.Port } };
            var resolver = new LinuxOwnerResolver();

            // PID 1 (init) does not hold it: not found, though this process does.
            var elsewhere = table.Read(query, CancellationToken.None).ToList();
            resolver.ResolveAmong(elsewhere, new[] { 1 }, CancellationToken.None);
            Assert.Null(Assert.Single(elsewhere).ProcessId);

            var here = table.Read(query, CancellationToken.None).ToList();
            resolver.ResolveAmong(here, new[] { 1, Environment.ProcessId, -5 }, CancellationToken.None);
            var owner = Assert.Single(Assert.Single(here).Owners);
            Assert.Equal(Environment.ProcessId, owner.ProcessId);
            Assert.Equal((int)s.ServerSockets[0].Handle, owner.FileDescriptor);
        }
    }
}
