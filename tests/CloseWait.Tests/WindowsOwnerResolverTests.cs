using System;
using System.Collections.Generic;
using System.Threading;
using CloseWait.Platform.Windows;
using Xunit;

namespace CloseWait.Tests
{
    public sealed class WindowsOwnerResolverTests
    {
        [Fact]
        public void NamesEachOwnerOnceFromOneSnapshot()
        {
            int snapshots = 0;
            var resolver = new WindowsOwnerResolver(() =>
            {
                snapshots++;
                return new Dictionary<int, string> { [100] = "nginx", [200] = "sqlservr" };
            });
            var a = new TcpConnection { ProcessId = 100 };
            var b = new TcpConnection { ProcessId = 100 };
            var gone = new TcpConnection { ProcessId = 300 };
            var unowned = new TcpConnection();

            int denied = resolver.Resolve(new[] { a, b, gone, unowned }, CancellationToken.None);

            Assert.Equal(0, denied);
            Assert.Equal(1, snapshots);
            Assert.Equal("nginx", a.Program);
            Assert.Same(a.Owners, b.Owners);
            Assert.Equal(100, Assert.Single(a.Owners).ProcessId);
            Assert.Null(Assert.Single(a.Owners).FileDescriptor);
            Assert.Null(gone.Program); // exited between the table and the snapshot
            Assert.Equal(300, Assert.Single(gone.Owners).ProcessId);
            Assert.Null(unowned.Program);
            Assert.Empty(unowned.Owners);
        }

        [Fact]
        public void TakesNoSnapshotWhenNoSocketHasAnOwner()
        {
            var resolver = new WindowsOwnerResolver(() => throw new InvalidOperationException("must not be called"));

            Assert.Equal(0, resolver.Resolve(new[] { new TcpConnection() }, CancellationToken.None));
        }

        [Fact]
        public void AFailedSnapshotCountsEachOwnerAsNotInspected()
        {
            var resolver = new WindowsOwnerResolver(() => throw new ProcessSnapshotException(5));
            var connections = new[] { new TcpConnection { ProcessId = 1 }, new TcpConnection { ProcessId = 1 }, new TcpConnection { ProcessId = 2 } };

            Assert.Equal(2, resolver.Resolve(connections, CancellationToken.None));
            Assert.All(connections, c => Assert.Null(c.Program));
            Assert.All(connections, c => Assert.Equal(c.ProcessId, Assert.Single(c.Owners).ProcessId));
        }

        [Theory]
        [InlineData("nginx.exe", "nginx")]
        [InlineData("SQLSERVR.EXE", "SQLSERVR")]
        [InlineData("System", "System")]
        [InlineData("Registry", "Registry")]
        [InlineData(@"C:\Program Files\app\svc.exe", "svc")]
        [InlineData("backup.exe.bak", "backup.exe.bak")]
        public void ProcessNamesAreGetProcessNames(string image, string expected) =>
            Assert.Equal(expected, WindowsOwnerResolver.ProcessNameFromImage(image));
    }
}
