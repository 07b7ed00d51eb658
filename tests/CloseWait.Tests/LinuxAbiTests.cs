using System;
using System.Runtime.InteropServices;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>
    /// The architecture-dependent Linux values, per architecture, against the kernel's uapi headers:
    /// include/uapi/asm-generic/fcntl.h (x86, x86_64), arch/arm{,64}/include/uapi/asm/fcntl.h,
    /// arch/x86/entry/syscalls/syscall_{64,32}.tbl, arch/arm/tools/syscall.tbl,
    /// include/uapi/asm-generic/unistd.h (arm64), asm-generic/socket.h, linux/nsfs.h.
    /// </summary>
    public sealed class LinuxAbiTests
    {
        [Theory]
        //                       O_DIRECTORY O_NOFOLLOW getdents64 sizeof(long)
        [InlineData(Architecture.X64, 0x10000, 0x20000, 217, 8)]   // 0200000, 0400000
        [InlineData(Architecture.X86, 0x10000, 0x20000, 220, 4)]
        [InlineData(Architecture.Arm64, 0x4000, 0x8000, 61, 8)]    // 040000, 0100000
        [InlineData(Architecture.Arm, 0x4000, 0x8000, 217, 4)]
        public void ValuesMatchTheKernelHeaders(Architecture arch, int oDirectory, int oNoFollow, long getdents64, int longSize)
        {
            var abi = Interop.LinuxAbi.For(arch)!;
            Assert.Equal(oDirectory, abi.O_DIRECTORY);
            Assert.Equal(oNoFollow, abi.O_NOFOLLOW);
            Assert.Equal(getdents64, abi.SYS_getdents64);
            Assert.Equal(longSize, abi.LongSize);
            Assert.Equal(434, abi.SYS_pidfd_open);
            Assert.Equal(438, abi.SYS_pidfd_getfd);
            Assert.Equal(20, abi.SO_RCVTIMEO);
            Assert.Equal(0xb703u, abi.NS_GET_NSTYPE);

            // struct timeval { long tv_sec; long tv_usec; }: 10 s laid out as two C longs.
            byte[] tv = abi.TimeVal(10);
            Assert.Equal(2 * longSize, tv.Length);
            Assert.Equal(10, tv[0]);
            Assert.All(tv.AsSpan(1).ToArray(), b => Assert.Equal(0, b));

            // struct statfs's f_type is a C long at offset 0: NSFS_MAGIC read back whatever follows.
            var statfs = new byte[abi.StatfsSize];
            BitConverter.GetBytes(0x6e736673).CopyTo(statfs, 0);
            statfs[longSize] = 0xFF; // the next field must not leak into f_type
            Assert.Equal(Interop.Libc.NSFS_MAGIC, abi.StatfsType(statfs));
        }

        [Fact]
        public void OnArmO_DIRECTORYIsNotTheX86Value()
        {
            // 0x10000 is O_DIRECT on arm and arm64: /proc refuses it with EINVAL.
            Assert.NotEqual(Interop.LinuxAbi.For(Architecture.X64)!.O_DIRECTORY, Interop.LinuxAbi.For(Architecture.Arm64)!.O_DIRECTORY);
        }

        [Fact]
        public void ArchitectureIndependentFlagsMatchAsmGeneric()
        {
            Assert.Equal(0x800, Interop.Libc.O_NONBLOCK);   // 00004000
            Assert.Equal(0x100, Interop.Libc.O_NOCTTY);     // 00000400
            Assert.Equal(0x80000, Interop.Libc.O_CLOEXEC);  // 02000000
            Assert.Equal(0x200000, Interop.Libc.O_PATH);    // 010000000
            Assert.Equal(Interop.Libc.O_CLOEXEC, Interop.Libc.SOCK_CLOEXEC);
        }

        [Fact]
        public void UnknownArchitectureIsRefusedNotGuessed()
        {
            Assert.Null(Interop.LinuxAbi.For((Architecture)99));
        }

        [Fact]
        public void ThisProcessHasItsArchitecturesValues()
        {
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux))
            {
                return;
            }

            var abi = Interop.LinuxAbi.Require();
            Assert.Equal(RuntimeInformation.ProcessArchitecture, abi.Architecture);

            // The value opens a /proc directory here (EINVAL if it were O_DIRECT) and refuses a file (ENOTDIR).
            int fd = Interop.Libc.open("/proc/self/fd", Interop.Libc.O_RDONLY | abi.O_DIRECTORY | Interop.Libc.O_CLOEXEC);
            Assert.True(fd >= 0, "opening /proc/self/fd with O_DIRECTORY failed");
            Interop.Libc.close(fd);
            Assert.True(Interop.Libc.open("/proc/self/status", Interop.Libc.O_RDONLY | abi.O_DIRECTORY | Interop.Libc.O_CLOEXEC) < 0);
        }
    }
}
