using System;
using System.IO;
using System.Runtime.InteropServices;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>What a test needs from the machine; a test whose need is missing is skipped with the reason (CI has them all).</summary>
    internal static class Prerequisites
    {
        internal static readonly bool IsLinux = RuntimeInformation.IsOSPlatform(OSPlatform.Linux);

        internal static readonly bool IsRoot = IsLinux && Interop.Libc.geteuid() == 0;

        /// <summary>Private network and mount namespaces: root and util-linux's unshare/nsenter.</summary>
        internal static readonly bool HasNamespaces = IsRoot && OnPath("unshare") && OnPath("nsenter") && File.Exists("/proc/self/ns/net");

        /// <summary>procps' sysctl, for the tests that compare with `sysctl --system`/`sysctl -p`.</summary>
        internal static readonly bool HasProcps = OnPath("sysctl");

        internal static string? Missing(bool root, bool namespaces, bool procps) =>
            !IsLinux && (root || namespaces || procps) ? "needs Linux"
            : root && !IsRoot ? "needs root (CAP_NET_ADMIN, setpriv, other users' descriptors): run the suite as root"
            : namespaces && !HasNamespaces ? "needs private network/mount namespaces: root and util-linux (unshare, nsenter)"
            : procps && !HasProcps ? "needs procps (sysctl): apt-get install procps"
            : null;

        private static bool OnPath(string program)
        {
            foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator))
            {
                if (dir.Length > 0 && File.Exists(Path.Combine(dir, program)))
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>[Fact] that skips with the reason when a prerequisite is missing.</summary>
    public sealed class LinuxFactAttribute : FactAttribute
    {
        private bool _root;
        private bool _namespaces;
        private bool _procps;

        public bool Root { get => _root; set { _root = value; Update(); } }

        public bool Namespaces { get => _namespaces; set { _namespaces = value; Update(); } }

        public bool Procps { get => _procps; set { _procps = value; Update(); } }

        private void Update() => Skip = Prerequisites.Missing(_root, _namespaces, _procps)!;
    }

    /// <summary>[Theory] that skips with the reason when a prerequisite is missing.</summary>
    public sealed class LinuxTheoryAttribute : TheoryAttribute
    {
        private bool _root;
        private bool _namespaces;
        private bool _procps;

        public bool Root { get => _root; set { _root = value; Update(); } }

        public bool Namespaces { get => _namespaces; set { _namespaces = value; Update(); } }

        public bool Procps { get => _procps; set { _procps = value; Update(); } }

        private void Update() => Skip = Prerequisites.Missing(_root, _namespaces, _procps)!;
    }
}
