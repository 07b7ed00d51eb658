using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using CloseWait.Platform.Linux;

namespace CloseWait.Tests
{
    /// <summary>
    /// A private network namespace (held by <see cref="PrivateNetworkNamespace"/>'s child, killed on
    /// dispose). A new namespace starts from the kernel defaults (7200, 75, 9), whatever the host's
    /// values. Its values are read with nsenter and cat, independently of the module under test.
    /// </summary>
    internal sealed class KeepAliveNamespace : IDisposable
    {
        private readonly PrivateNetworkNamespace _holder = new PrivateNetworkNamespace();

        public int Pid => _holder.Pid;

        /// <summary>What -NetworkNamespace takes: the holder's PID.</summary>
        public string Spec => Pid.ToString(CultureInfo.InvariantCulture);

        public string Path => $"/proc/{Pid}/ns/net";

        /// <summary>Time, interval (seconds) and probes as the kernel holds them in this namespace.</summary>
        public (long Time, long Interval, long Probes) Values()
        {
            var (code, output) = KeepAliveHost.Run("nsenter", $"--net={Path}", "cat",
                "/proc/sys/net/ipv4/tcp_keepalive_time", "/proc/sys/net/ipv4/tcp_keepalive_intvl", "/proc/sys/net/ipv4/tcp_keepalive_probes");
            if (code != 0)
            {
                throw new InvalidOperationException("nsenter cat failed: " + output);
            }

            var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            return (long.Parse(lines[0], CultureInfo.InvariantCulture), long.Parse(lines[1], CultureInfo.InvariantCulture), long.Parse(lines[2], CultureInfo.InvariantCulture));
        }

        public void Dispose() => _holder.Dispose();
    }

    internal static class KeepAliveHost
    {
        internal static readonly (long Time, long Interval, long Probes) KernelDefaults = (7200, 75, 9);

        /// <summary>
        /// Shell steps, inside a private mount and network namespace, that leave only /proc/sys/net
        /// writable: procps-ng 4.0.2's `sysctl --system --dry-run` still writes every key it reads,
        /// and only net.* belongs to the private network namespace, so kernel.*, fs.* and vm.* of
        /// the host must not be writable there (sysctl's "Read-only file system" on them is expected).
        /// </summary>
        internal const string ReadOnlyProcSysButNet =
            "mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && " +
            "mount --bind /proc/sys/net /proc/sys/net && mount -o remount,bind,rw /proc/sys/net";

        /// <summary>The host's own values, read directly (the test process stays in the host's namespace).</summary>
        internal static (long Time, long Interval, long Probes) Values() =>
            (ReadLong("/proc/sys/net/ipv4/tcp_keepalive_time"), ReadLong("/proc/sys/net/ipv4/tcp_keepalive_intvl"), ReadLong("/proc/sys/net/ipv4/tcp_keepalive_probes"));

        internal static long ReadLong(string path) => long.Parse(File.ReadAllText(path).Trim(), CultureInfo.InvariantCulture);

        /// <summary>The engine host (tools/CloseWait.Host), copied beside the tests: runs a pipeline in a child process.</summary>
        internal static string HostTool => System.IO.Path.Combine(AppContext.BaseDirectory, "CloseWait.Host");

        /// <summary>Runs a program to completion (bounded), each argument passed as is, with HOME in a scratch place.</summary>
        internal static (int ExitCode, string Output) Run(string file, params string[] arguments) =>
            TestNative.Run(file, string.Empty, configure: psi =>
            {
                foreach (string a in arguments)
                {
                    psi.ArgumentList.Add(a);
                }

                psi.Environment["HOME"] = System.IO.Path.GetTempPath();
            });

        /// <summary>Quotes a word for sh -c.</summary>
        internal static string Sh(string word) => "'" + word.Replace("'", "'\\''") + "'";
    }

    /// <summary>
    /// A scratch tree for the Linux store: fake /proc/sys/net/ipv4 files and a configuration root
    /// with etc/sysctl.d, so persistence and after-reboot reading never touch the host's /etc.
    /// </summary>
    internal sealed class ScratchSysctlTree : IDisposable
    {
        public ScratchSysctlTree(long time = 7200, long interval = 75, long probes = 9)
        {
            Root = Directory.CreateTempSubdirectory("closewait-keepalive-").FullName;
            Proc = System.IO.Path.Combine(Root, "proc");
            ConfigRoot = System.IO.Path.Combine(Root, "root");
            Directory.CreateDirectory(Proc);
            Directory.CreateDirectory(System.IO.Path.Combine(ConfigRoot, "etc", "sysctl.d"));
            SetProc(time, interval, probes);
        }

        public string Root { get; }

        public string Proc { get; }

        public string ConfigRoot { get; }

        public string SysctlD => System.IO.Path.Combine(ConfigRoot, "etc", "sysctl.d");

        public string DropIn => System.IO.Path.Combine(SysctlD, LinuxKeepAliveStore.DropInName);

        public LinuxKeepAliveStore Store() => new LinuxKeepAliveStore(Proc, ConfigRoot);

        public void SetProc(long time, long interval, long probes)
        {
            File.WriteAllText(System.IO.Path.Combine(Proc, "tcp_keepalive_time"), time + "\n");
            File.WriteAllText(System.IO.Path.Combine(Proc, "tcp_keepalive_intvl"), interval + "\n");
            File.WriteAllText(System.IO.Path.Combine(Proc, "tcp_keepalive_probes"), probes + "\n");
        }

        public (long Time, long Interval, long Probes) ProcValues() =>
            (KeepAliveHost.ReadLong(System.IO.Path.Combine(Proc, "tcp_keepalive_time")),
             KeepAliveHost.ReadLong(System.IO.Path.Combine(Proc, "tcp_keepalive_intvl")),
             KeepAliveHost.ReadLong(System.IO.Path.Combine(Proc, "tcp_keepalive_probes")));

        /// <summary>Writes a file below the configuration root ("etc/sysctl.conf", "usr/lib/sysctl.d/10-x.conf").</summary>
        public string WriteConfig(string relative, string text)
        {
            string path = System.IO.Path.Combine(ConfigRoot, relative);
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
            File.WriteAllText(path, text);
            return path;
        }

        /// <summary>Every file below the tree with its bytes, to prove a write left the others alone.</summary>
        public Dictionary<string, string> Snapshot()
        {
            var files = new Dictionary<string, string>();
            foreach (string f in Directory.EnumerateFiles(ConfigRoot, "*", SearchOption.AllDirectories))
            {
                files[f] = File.ReadAllText(f);
            }

            return files;
        }

        public void Dispose() => Directory.Delete(Root, recursive: true);
    }
}
