using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Threading.Tasks;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>
    /// -NetworkNamespace and a piped record's NetworkNamespace take only network-namespace files:
    /// a fifo (a blocking open() would wait forever for a writer), a regular file, a device, a
    /// directory and another kind of namespace are refused at once with InvalidArgument.
    /// </summary>
    [Collection("PowerShell")]
    public sealed class NetworkNamespacePathTests : IDisposable
    {
        private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
        private readonly PowerShellFixture _ps;
        private readonly string _dir;

        public NetworkNamespacePathTests(PowerShellFixture ps)
        {
            _ps = ps;
            _dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "closewait-ns-" + Guid.NewGuid().ToString("N"))).FullName;
        }

        public void Dispose() => Directory.Delete(_dir, recursive: true);

        private string NotANamespace(string kind)
        {
            switch (kind)
            {
                case "fifo":
                    string fifo = Path.Combine(_dir, "fifo");
                    Assert.Equal(0, TestNative.Run("mkfifo", fifo).ExitCode);
                    return fifo;
                case "file":
                    string file = Path.Combine(_dir, "file");
                    File.WriteAllText(file, "not a namespace");
                    return file;
                case "directory":
                    return _dir;
                case "device":
                    return "/dev/null";
                case "mount namespace":
                    return "/proc/self/ns/mnt";
                default:
                    throw new ArgumentException(kind);
            }
        }

        /// <summary>Runs the script on a pool thread with a deadline, so that a hang fails the test instead of the suite.</summary>
        private PSResult RunBounded(string script, Dictionary<string, object?> vars)
        {
            var run = Task.Run(() => _ps.Run(script, vars));
            Assert.True(run.Wait(Bound), $"'{script}' did not return within {Bound.TotalSeconds} s (a blocking open?)");
            return run.Result;
        }

        public static IEnumerable<object[]> Cases()
        {
            string[] kinds = { "fifo", "file", "directory", "device", "mount namespace" };
            (string Script, string Cmdlet)[] scripts =
            {
                ("Get-TcpKeepAliveSetting -NetworkNamespace $ns", "GetTcpKeepAliveSettingCommand"),
                ("Get-TcpConnection -NetworkNamespace $ns", "GetTcpConnectionCommand"),
                ("Get-TcpCloseWait -NetworkNamespace $ns", "GetTcpCloseWaitCommand"),
                ("Get-TcpConnectionSummary -NetworkNamespace $ns", "GetTcpConnectionSummaryCommand"),
                ("Set-TcpKeepAliveSetting -Time 300 -NetworkNamespace $ns -Confirm:$false", "SetTcpKeepAliveSettingCommand"),
            };
            foreach (string kind in kinds)
            {
                foreach (var s in scripts)
                {
                    yield return new object[] { kind, s.Script, s.Cmdlet };
                }
            }
        }

        [Theory]
        [MemberData(nameof(Cases))]
        public void AnythingButANetworkNamespaceIsRefusedAtOnce(string kind, string script, string cmdlet)
        {
            string path = NotANamespace(kind);
            var r = RunBounded(script, new Dictionary<string, object?> { ["ns"] = path });
            var e = r.Terminating?.ErrorRecord ?? Assert.Single(r.Errors);
            Assert.Equal("InvalidNetworkNamespace,CloseWait.Commands." + cmdlet, e.FullyQualifiedErrorId);
            Assert.Equal(System.Management.Automation.ErrorCategory.InvalidArgument, e.CategoryInfo.Category);
            Assert.Contains(path, e.Exception.Message);
            Assert.Contains("/proc/<pid>/ns/net", e.Exception.Message); // says what to give
            Assert.Contains(kind == "mount namespace" ? "is a mount namespace" : "is not a namespace file", e.Exception.Message);
            Assert.Empty(r.Output);
        }

        [Theory]
        [InlineData("fifo")]
        [InlineData("device")]
        [InlineData("mount namespace")]
        public void APipedRecordsNamespaceColumnIsCheckedTheSameWay(string kind)
        {
            string path = NotANamespace(kind);
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback);
            var vars = new Dictionary<string, object?> { ["ns"] = path, ["port"] = sockets.Port };
            // As it arrives from remoting (or a CSV file): a record whose NetworkNamespace column was edited.
            var r = RunBounded(@"$row = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize((Get-TcpCloseWait -LocalPort $port)))
                $row.NetworkNamespace = $ns
                $row | Close-TcpConnection -Confirm:$false", vars);
            var e = Assert.Single(r.Errors);
            Assert.Equal("InvalidNetworkNamespace,CloseWait.Commands.CloseTcpConnectionCommand", e.FullyQualifiedErrorId);
            Assert.Equal(System.Management.Automation.ErrorCategory.InvalidArgument, e.CategoryInfo.Category);

            // Nothing was closed: the host's socket is still in CLOSE_WAIT.
            Assert.Single(_ps.Run("Get-TcpCloseWait -LocalPort $port", vars).ThrowIfFailed().Output);
        }

        /// <summary>
        /// The scan (-AllNetworkNamespaces, completion, NetworkNamespaceName) reads /run/netns with
        /// InodeOf: a file there whose bind mount is gone is a plain file, and its inode is no namespace.
        /// </summary>
        [Theory]
        [InlineData("file")]
        [InlineData("directory")]
        [InlineData("device")]
        public void InodeOfIsNullForWhatIsNotANamespaceFile(string kind)
        {
            Assert.Null(CloseWait.Platform.Linux.LinuxNetworkNamespace.InodeOf(NotANamespace(kind)));
            ulong? own = CloseWait.Platform.Linux.LinuxNetworkNamespace.OwnInode();
            Assert.NotNull(own);
            Assert.Equal(own, CloseWait.Platform.Linux.LinuxNetworkNamespace.InodeOf("/proc/thread-self/ns/net"));
        }

        [Fact]
        public void WithoutStatxTheDescriptorLinkGivesTheSameInode()
        {
            int fd = Interop.Libc.open("/proc/thread-self/ns/net", Interop.Libc.O_RDONLY | Interop.Libc.O_CLOEXEC);
            Assert.True(fd >= 0);
            try
            {
                ulong? own = CloseWait.Platform.Linux.LinuxNetworkNamespace.OwnInode();
                Assert.NotNull(own);
                Assert.Equal(own, CloseWait.Platform.Linux.LinuxNetworkNamespace.InodeOfDescriptorLink(fd));
            }
            finally
            {
                Interop.Libc.close(fd);
            }
        }

        [Fact]
        public void ANetworkNamespaceFileStillWorks()
        {
            var r = RunBounded("Get-TcpKeepAliveSetting -NetworkNamespace /proc/self/ns/net", new Dictionary<string, object?>()).ThrowIfFailed();
            Assert.Single(r.Output);
        }
    }
}
