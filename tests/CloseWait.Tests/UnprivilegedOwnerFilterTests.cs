using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>
    /// Without root the owners of other users' sockets stay hidden, so -ProcessId and -ProcessName
    /// cannot match them: the filtered call must warn as the unfiltered one does, not return
    /// nothing in silence. The child runs as nobody from a world-readable copy of the test host
    /// and the module, so that it works wherever the clone lives.
    /// </summary>
    [Collection("PowerShell")]
    public sealed class UnprivilegedOwnerFilterTests
    {
        private readonly PowerShellFixture _ps;

        public UnprivilegedOwnerFilterTests(PowerShellFixture ps) => _ps = ps;

        [Theory]
        [InlineData("Get-TcpCloseWait -LocalPort {0} -ProcessId {1}")]
        [InlineData("Get-TcpCloseWait -LocalPort {0} -ProcessName {2}")]
        [InlineData("Get-TcpConnection -LocalPort {0} -State CloseWait -ProcessId {1}")]
        public void AnOwnerFilterWithoutRootWarnsInsteadOfReturningNothingSilently(string command)
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback);
            string name = TestNative.Comm(Environment.ProcessId);
            string script = string.Format(command, sockets.Port, Environment.ProcessId, name);

            string root = Directory.CreateTempSubdirectory("closewait-nobody").FullName;
            try
            {
                // What the child needs, where nobody can read it: the host and the module.
                string host = Path.Combine(root, "host");
                string module = Path.Combine(root, "module");
                Assert.Equal(0, TestNative.Run("cp", $"-r \"{AppContext.BaseDirectory.TrimEnd('/')}\" \"{host}\"").ExitCode);
                Assert.Equal(0, TestNative.Run("cp", $"-r \"{Path.GetDirectoryName(_ps.ManifestPath)}\" \"{module}\"").ExitCode);
                Assert.Equal(0, TestNative.Run("chmod", $"-R a+rX,a+w \"{root}\"").ExitCode);

                var (code, output) = TestNative.Run("setpriv", $"--reuid=65534 --regid=65534 --clear-groups dotnet \"{Path.Combine(host, "CloseWait.Host.dll")}\" {script}", 60000, psi =>
                {
                    psi.Environment["HOME"] = root;
                    psi.Environment["DOTNET_CLI_HOME"] = root;
                    psi.Environment["CLOSEWAIT_MODULE"] = Path.Combine(module, Path.GetFileName(_ps.ManifestPath));
                });

                Assert.True(code == 0, output);
                Assert.DoesNotContain($"127.0.0.1:{sockets.Port}", output); // the owner is hidden, so nothing matches
                var warning = Assert.Single(output.Split('\n'), l => l.StartsWith("WARNING:"));
                Assert.Contains("could not be inspected", warning);
                Assert.Contains("Run as root", warning);
                Assert.Contains("-ProcessId and -ProcessName cannot match", warning);
            }
            finally
            {
                Directory.Delete(root, true);
            }
        }
    }
}
