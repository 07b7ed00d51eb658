using System;
using System.Runtime.InteropServices;

// Every Linux value that differs by CPU architecture, in one place. Values from the kernel's uapi
// headers: include/uapi/asm-generic/fcntl.h (x86 and x86_64 use it as is; arch/arm and arch/arm64
// override O_DIRECTORY, O_NOFOLLOW, O_DIRECT and O_LARGEFILE), the syscall tables
// (arch/x86/entry/syscalls/syscall_{64,32}.tbl, arch/arm/tools/syscall.tbl,
// include/uapi/asm-generic/unistd.h for arm64), include/uapi/asm-generic/socket.h and ioctl.h.
// Anything not listed here (the other O_ flags, SO_ options, netlink, inet_diag, struct statx,
// struct linux_dirent64) is the same on all four.
internal static partial class Interop
{
    internal sealed class LinuxAbi
    {
        private LinuxAbi(Architecture architecture, int oDirectory, int oNoFollow, long sysGetdents64, int longSize)
        {
            Architecture = architecture;
            O_DIRECTORY = oDirectory;
            O_NOFOLLOW = oNoFollow;
            SYS_getdents64 = sysGetdents64;
            LongSize = longSize;
        }

        public Architecture Architecture { get; }

        /// <summary>x86: 0200000; arm and arm64: 040000 (0200000 is O_DIRECT there, and /proc refuses it with EINVAL).</summary>
        public int O_DIRECTORY { get; }

        /// <summary>x86: 0400000; arm and arm64: 0100000.</summary>
        public int O_NOFOLLOW { get; }

        /// <summary>Only used when the C library does not export getdents64 (glibc before 2.30).</summary>
        public long SYS_getdents64 { get; }

        /// <summary>pidfd_open and pidfd_getfd: numbers from the table shared by every architecture since Linux 5.1.</summary>
        public long SYS_pidfd_open => 434;

        public long SYS_pidfd_getfd => 438;

        /// <summary>
        /// sizeof(long) in the C ABI: the size of each struct timeval field that SO_RCVTIMEO (20,
        /// SO_RCVTIMEO_OLD) takes, and of struct statfs's f_type, the first field.
        /// </summary>
        public int LongSize { get; }

        /// <summary>SO_RCVTIMEO_OLD: a struct timeval of two C longs on every architecture here.</summary>
        public int SO_RCVTIMEO => 20;

        /// <summary>_IO(0xb7, 0x3) from linux/nsfs.h; _IOC_NONE is 0 and the type is shifted by 8 on all four.</summary>
        public uint NS_GET_NSTYPE => 0xb703;

        /// <summary>Enough for struct statfs on every architecture here (120 bytes on 64-bit, 64 on 32-bit).</summary>
        public int StatfsSize => 256;

        /// <summary>The values for this process, or null on an architecture whose values are not known here.</summary>
        public static LinuxAbi? Current { get; } = For(RuntimeInformation.ProcessArchitecture);

        public static LinuxAbi? For(Architecture architecture)
        {
            switch (architecture)
            {
                case Architecture.X64: return new LinuxAbi(architecture, 0x10000, 0x20000, 217, 8);
                case Architecture.X86: return new LinuxAbi(architecture, 0x10000, 0x20000, 220, 4);
                case Architecture.Arm64: return new LinuxAbi(architecture, 0x4000, 0x8000, 61, 8);
                case Architecture.Arm: return new LinuxAbi(architecture, 0x4000, 0x8000, 217, 4);
                default: return null;
            }
        }

        /// <summary>The values for this process; a clear failure on an architecture they are not known for.</summary>
        public static LinuxAbi Require()
        {
            return Current ?? throw new CloseWait.CloseWaitException(CloseWait.ErrorIds.UnsupportedArchitecture, System.Management.Automation.ErrorCategory.NotImplemented,
                $"CloseWait knows the Linux system interface of x64, x86, arm64 and arm, not of {RuntimeInformation.ProcessArchitecture} (open flags and system call numbers differ by architecture). Run it on one of those.");
        }

        /// <summary>A struct timeval of <paramref name="seconds"/>, laid out for this architecture (two C longs).</summary>
        public byte[] TimeVal(long seconds)
        {
            var buf = new byte[2 * LongSize];
            byte[] sec = LongSize == 8 ? BitConverter.GetBytes(seconds) : BitConverter.GetBytes((int)seconds);
            Buffer.BlockCopy(sec, 0, buf, 0, sec.Length);
            return buf;
        }

        /// <summary>struct statfs's f_type (a C long at offset 0), read from a filled buffer.</summary>
        public long StatfsType(byte[] statfs) =>
            LongSize == 8 ? BitConverter.ToInt64(statfs, 0) : BitConverter.ToInt32(statfs, 0);
    }
}
