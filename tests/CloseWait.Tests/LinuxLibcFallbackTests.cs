using System;
using System.Collections.Generic;
using System.Text;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>The raw getdents64 system call, used where the C library does not export the wrapper (glibc before 2.30).</summary>
    public sealed unsafe class LinuxLibcFallbackTests
    {
        private static List<string> List(string dir, bool viaSyscall)
        {
            int fd = Interop.Libc.open(dir, Interop.Libc.O_RDONLY | Interop.Libc.O_DIRECTORY | Interop.Libc.O_CLOEXEC);
            Assert.True(fd >= 0);
            var names = new List<string>();
            var buf = new byte[4096];
            try
            {
                fixed (byte* p = buf)
                {
                    while (true)
                    {
                        long n = (long)(viaSyscall ? Interop.Libc.GetDents64Syscall(fd, p, (IntPtr)buf.Length) : Interop.Libc.GetDents64(fd, p, (IntPtr)buf.Length));
                        Assert.True(n >= 0, "getdents64 failed");
                        if (n == 0)
                        {
                            break;
                        }

                        for (long pos = 0; pos < n;)
                        {
                            ushort reclen = *(ushort*)(p + pos + 16);
                            byte* name = p + pos + 19;
                            int len = 0;
                            while (name[len] != 0)
                            {
                                len++;
                            }

                            names.Add(Encoding.ASCII.GetString(name, len));
                            pos += reclen;
                        }
                    }
                }
            }
            finally
            {
                Interop.Libc.close(fd);
            }

            names.Sort(StringComparer.Ordinal);
            return names;
        }

        [Fact]
        public void SystemCallListsWhatTheWrapperLists()
        {
            var viaWrapper = List("/proc/self", viaSyscall: false);
            var viaSyscall = List("/proc/self", viaSyscall: true);
            Assert.Contains("fd", viaSyscall);
            Assert.Contains("status", viaSyscall);
            Assert.Equal(viaWrapper, viaSyscall);
        }
    }
}
