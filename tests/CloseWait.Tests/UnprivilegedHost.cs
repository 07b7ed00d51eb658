using System;
using System.Diagnostics;
using System.IO;

namespace CloseWait.Tests
{
    /// <summary>
    /// Runs the engine host (tools/CloseWait.Host) as nobody. The build folder may sit where nobody
    /// cannot enter (a clone under a 0700 home, or made by mktemp -d): the host, the engine it loads
    /// and the module are copied to a world-readable folder under /tmp, removed on Dispose.
    /// </summary>
    internal sealed class UnprivilegedHost : IDisposable
    {
        internal const string Nobody = "--reuid=65534 --regid=65534 --clear-groups";

        internal UnprivilegedHost(string manifestPath)
        {
            // Not Path.GetTempPath(): TMPDIR may point into the private folder too.
            Root = Path.Combine("/tmp", "closewait-nobody-" + Guid.NewGuid().ToString("N"));
            Bin = Path.Combine(Root, "bin");
            Home = Path.Combine(Root, "home");
            CopyTree(AppContext.BaseDirectory, Bin);
            string module = Path.Combine(Root, "module", "CloseWait");
            CopyTree(Path.GetDirectoryName(manifestPath)!, module);
            Manifest = Path.Combine(module, Path.GetFileName(manifestPath));
            Directory.CreateDirectory(Home);
            TestNative.Run("chmod", $"-R a+rX {Root}");
            TestNative.Run("chmod", $"777 {Home}");
        }

        internal string Root { get; }

        internal string Bin { get; }

        /// <summary>A folder nobody may write, for HOME and files handed to the child.</summary>
        internal string Home { get; }

        internal string Manifest { get; }

        internal string HostDll => Path.Combine(Bin, "CloseWait.Host.dll");

        internal string HostTool => Path.Combine(Bin, "CloseWait.Host");

        /// <summary>setpriv as nobody, then <paramref name="program"/> (e.g. "dotnet &lt;HostDll&gt;") with its arguments.</summary>
        internal (int ExitCode, string Output) RunAsNobody(string arguments, int timeoutMs = 60000) =>
            TestNative.Run("setpriv", $"{Nobody} {arguments}", timeoutMs, Configure);

        internal void Configure(ProcessStartInfo psi)
        {
            psi.Environment["HOME"] = Home;
            psi.Environment["DOTNET_CLI_HOME"] = Home;
            psi.Environment["CLOSEWAIT_MODULE"] = Manifest;
        }

        public void Dispose()
        {
            try
            {
                Directory.Delete(Root, recursive: true);
            }
            catch (IOException)
            {
                // A child still holding a file open: /tmp is cleaned by the system in the end.
            }
        }

        private static void CopyTree(string from, string to)
        {
            Directory.CreateDirectory(to);
            foreach (string file in Directory.GetFiles(from))
            {
                File.Copy(file, Path.Combine(to, Path.GetFileName(file)), overwrite: true);
            }

            foreach (string dir in Directory.GetDirectories(from))
            {
                CopyTree(dir, Path.Combine(to, Path.GetFileName(dir)));
            }
        }
    }
}
