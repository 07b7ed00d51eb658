using System;
using System.Diagnostics;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;

namespace CloseWait.Tests
{
    /// <summary>Helpers for tests: child processes, namespaces, descriptor inheritance.</summary>
    internal static class TestNative
    {
        private const int F_GETFD = 1;
        private const int F_SETFD = 2;
        private const int FD_CLOEXEC = 1;
        private const int CLONE_NEWNET = 0x40000000;

        [DllImport("libc.so.6", SetLastError = true)]
        private static extern int fcntl(int fd, int cmd, int arg);

        [DllImport("libc.so.6", SetLastError = true)]
        private static extern int setns(int fd, int nstype);

        [DllImport("libc.so.6", SetLastError = true)]
        private static extern int open([MarshalAs(UnmanagedType.LPStr)] string path, int flags);

        [DllImport("libc.so.6", SetLastError = true)]
        private static extern int close(int fd);

        /// <summary>Lets a child started next inherit this descriptor (sockets are opened close-on-exec).</summary>
        internal static void SetInheritable(SafeHandle handle, bool inheritable)
        {
            int fd = (int)handle.DangerousGetHandle();
            int flags = fcntl(fd, F_GETFD, 0);
            if (fcntl(fd, F_SETFD, inheritable ? flags & ~FD_CLOEXEC : flags | FD_CLOEXEC) != 0)
            {
                throw new InvalidOperationException("fcntl failed: " + Marshal.GetLastWin32Error());
            }
        }

        internal static string Comm(int pid) => File.ReadAllText($"/proc/{pid}/comm").TrimEnd('\n');

        /// <summary>Runs a program to completion (bounded) and returns its exit code and output.</summary>
        internal static (int ExitCode, string Output) Run(string file, string arguments, int timeoutMs = 60000, Action<ProcessStartInfo>? configure = null)
        {
            var psi = new ProcessStartInfo(file, arguments)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            configure?.Invoke(psi);
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(timeoutMs))
            {
                p.Kill(true);
                throw new TimeoutException($"{file} {arguments} did not finish in {timeoutMs} ms");
            }

            return (p.ExitCode, stdout.Result + stderr.Result);
        }

        /// <summary>Runs <paramref name="body"/> on a thread that has joined the network namespace of <paramref name="pid"/>.</summary>
        internal static T InNamespaceOf<T>(int pid, Func<T> body)
        {
            T result = default!;
            Exception? failure = null;
            var t = new Thread(() =>
            {
                try
                {
                    int fd = open($"/proc/{pid}/ns/net", 0);
                    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0)
                    {
                        throw new InvalidOperationException("setns failed: " + Marshal.GetLastWin32Error());
                    }

                    close(fd);
                    result = body();
                }
                catch (Exception e)
                {
                    failure = e;
                }
            });
            t.Start();
            t.Join();
            if (failure != null)
            {
                throw new InvalidOperationException("in namespace: " + failure.Message, failure);
            }

            return result;
        }
    }

    /// <summary>A private network namespace with loopback up, held by a child process; killed on dispose.</summary>
    internal sealed class PrivateNetworkNamespace : IDisposable
    {
        private readonly Process _holder;

        public PrivateNetworkNamespace()
        {
            var psi = new ProcessStartInfo("unshare", "-n sh -c \"ip link set lo up && echo ready && exec sleep 3600\"")
            {
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            _holder = Process.Start(psi)!;
            var line = _holder.StandardOutput.ReadLineAsync();
            if (!line.Wait(10000) || line.Result != "ready")
            {
                Dispose();
                throw new InvalidOperationException("could not create a private network namespace (unshare -n)");
            }

            Pid = _holder.Id;
        }

        public int Pid { get; }

        public void Dispose()
        {
            try
            {
                _holder.Kill(true);
                _holder.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
            }

            _holder.Dispose();
        }
    }
}
