using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Net.Sockets;
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

        /// <summary>
        /// The watch's targeted search: an established socket read by the walk of every process and
        /// only then in CLOSE_WAIT is confirmed where it was (no process read); a socket opened after
        /// the walk is found in the one process whose table changed, asked first.
        /// </summary>
        [Fact]
        public void TargetedSearchFindsSocketsSeenBeforeAndOpenedSince()
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(4);
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            client.Connect(listener.LocalEndPoint!);
            using var server = listener.Accept();
            int port = ((IPEndPoint)listener.LocalEndPoint!).Port;

            var resolver = new LinuxOwnerResolver();
            var search = (LinuxOwnerSearch)resolver.StartSearch();
            Assert.False(search.Primed);
            search.ResolveAll(new List<TcpConnection>(), CancellationToken.None);
            Assert.True(search.Primed);

            client.Close();
            var table = new LinuxSocketTable { ForcedBackend = LinuxTableBackend.Netlink };
            var query = new SocketQuery { States = new[] { TcpState.CloseWait }, LocalPorts = new[] { port } };
            var stuck = WaitForCloseWait(table, query, 1);
            Assert.Equal(1, search.ResolveTargeted(stuck, Array.Empty<int>(), CancellationToken.None));
            Assert.Equal((Environment.ProcessId, (int?)(int)server.Handle), (stuck[0].ProcessId!.Value, stuck[0].Owners[0].FileDescriptor));
            Assert.Equal(1, search.IndexHits);
            Assert.Equal(0, search.ProcessesRead);

            using var later = LoopbackSockets.CloseWait(IPAddress.Loopback, count: 2);
            var fresh = table.Read(new SocketQuery { States = new[] { TcpState.CloseWait }, LocalPorts = new[] { later.Port } }, CancellationToken.None).ToList();
            Assert.Equal(2, fresh.Count);
            Assert.Equal(2, search.ResolveTargeted(fresh, new[] { Environment.ProcessId }, CancellationToken.None));
            Assert.All(fresh, c => Assert.Equal(Environment.ProcessId, c.ProcessId));
            Assert.Equal(Process.GetCurrentProcess().ProcessName, fresh[0].Program);
            Assert.Equal(1, search.ProcessesRead);
        }

        /// <summary>
        /// A socket passed (SCM_RIGHTS) to another process by one that then exits: the index points to
        /// the dead process, the receiver's table changed, so the receiver is named and the dead PID is not.
        /// </summary>
        [Fact]
        public void TargetedSearchFollowsASocketPassedOnByAProcessThatExits()
        {
            const string Script = @"
import os, socket, sys
ls = socket.socket(); ls.bind(('127.0.0.1', 0)); ls.listen(1)
c = socket.create_connection(ls.getsockname()); s, _ = ls.accept(); c.close()
a, b = socket.socketpair(socket.AF_UNIX)
if os.fork() == 0:
    a.close(); ls.close(); s.close()
    _, fds, _, _ = socket.recv_fds(b, 16, 1)
    print('B %d %d' % (os.getpid(), fds[0]), flush=True)
    sys.stdin.read()
    os._exit(0)
b.close()
print('A %d %d %d' % (os.getpid(), ls.getsockname()[1], s.fileno()), flush=True)
sys.stdin.readline()
socket.send_fds(a, [b'x'], [s.fileno()])
s.close(); ls.close()
os._exit(0)
";
            var start = new ProcessStartInfo("python3") { UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true };
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add(Script);
            using var python = Process.Start(start)!;
            try
            {
                string[] a = python.StandardOutput.ReadLine()!.Split(' ');
                int senderPid = int.Parse(a[1], System.Globalization.CultureInfo.InvariantCulture);
                int port = int.Parse(a[2], System.Globalization.CultureInfo.InvariantCulture);
                int senderFd = int.Parse(a[3], System.Globalization.CultureInfo.InvariantCulture);
                var table = new LinuxSocketTable { ForcedBackend = LinuxTableBackend.Netlink };
                var query = new SocketQuery { States = new[] { TcpState.CloseWait }, LocalPorts = new[] { port } };

                var search = new LinuxOwnerResolver().StartSearch();
                var first = WaitForCloseWait(table, query, 1);
                search.ResolveAll(first, CancellationToken.None);
                Assert.Equal(senderPid, first[0].ProcessId);
                Assert.Equal(senderFd, first[0].Owners[0].FileDescriptor);

                python.StandardInput.WriteLine("pass");
                python.StandardInput.Flush();
                string[] b = python.StandardOutput.ReadLine()!.Split(' ');
                int receiverPid = int.Parse(b[1], System.Globalization.CultureInfo.InvariantCulture);
                int receiverFd = int.Parse(b[2], System.Globalization.CultureInfo.InvariantCulture);
                Assert.True(python.WaitForExit(10000));

                var passed = table.Read(query, CancellationToken.None).ToList();
                Assert.Equal(first[0].Inode, Assert.Single(passed).Inode);
                Assert.Equal(1, search.ResolveTargeted(passed, new[] { senderPid }, CancellationToken.None));
                var owner = Assert.Single(passed[0].Owners);
                Assert.Equal((receiverPid, (int?)receiverFd), (owner.ProcessId, owner.FileDescriptor));
                Assert.Equal("python3", owner.Program);
            }
            finally
            {
                python.StandardInput.Close();
                if (!python.WaitForExit(10000))
                {
                    python.Kill();
                }
            }
        }

        private static List<TcpConnection> WaitForCloseWait(LinuxSocketTable table, SocketQuery query, int count)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (true)
            {
                var found = table.Read(query, CancellationToken.None).ToList();
                if (found.Count >= count || DateTime.UtcNow > deadline)
                {
                    return found;
                }

                Thread.Sleep(10);
            }
        }
    }
}
