using System;
using System.Runtime.InteropServices;

// Linux (glibc) declarations. Constants carry the kernel's names.
internal static partial class Interop
{
    internal static unsafe partial class Libc
    {
        internal const int AF_NETLINK = 16;
        internal const int SOCK_RAW = 3;
        internal const int SOCK_CLOEXEC = 0x80000;
        internal const int NETLINK_SOCK_DIAG = 4;
        internal const int SOL_SOCKET = 1;
        internal const int MSG_TRUNC = 0x20;

        internal const int O_RDONLY = 0;
        internal const int O_WRONLY = 1;
        internal const int O_CREAT = 0x40;
        internal const int O_EXCL = 0x80;
        internal const int O_NOCTTY = 0x100;
        internal const int O_TRUNC = 0x200;
        internal const int O_NONBLOCK = 0x800;
        internal const int O_CLOEXEC = 0x80000;
        internal const int O_PATH = 0x200000;

        // Differs by architecture: see LinuxAbi.
        internal static int O_DIRECTORY => LinuxAbi.Require().O_DIRECTORY;

        internal const int CLONE_NEWNET = 0x40000000;

        internal const int EPERM = 1;
        internal const int ENOENT = 2;
        internal const int ESRCH = 3;
        internal const int EINTR = 4;
        internal const int EBADF = 9;
        internal const int EACCES = 13;
        internal const int EINVAL = 22;
        internal const int EROFS = 30;
        internal const int ENOSYS = 38;
        internal const int EPROTONOSUPPORT = 93;
        internal const int EOPNOTSUPP = 95;
        internal const int EAFNOSUPPORT = 97;
        internal const int ENOTTY = 25;
        internal const int ESTALE = 116;

        [StructLayout(LayoutKind.Sequential)]
        internal struct SockAddrNl
        {
            internal ushort nl_family;
            internal ushort nl_pad;
            internal uint nl_pid;
            internal uint nl_groups;
        }

        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern int socket(int domain, int type, int protocol);

        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern int bind(int sockfd, ref SockAddrNl addr, int addrlen);

        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern int getsockname(int sockfd, ref SockAddrNl addr, ref int addrlen);

        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern int setsockopt(int sockfd, int level, int optname, ref int optval, int optlen);

        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern int setsockopt(int sockfd, int level, int optname, byte* optval, int optlen);

        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern IntPtr sendto(int sockfd, byte* buf, IntPtr len, int flags, ref SockAddrNl dest, int addrlen);

        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern IntPtr recvfrom(int sockfd, byte* buf, IntPtr len, int flags, ref SockAddrNl src, ref int addrlen);

        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern int close(int fd);

        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern int open([MarshalAs(UnmanagedType.LPStr)] string pathname, int flags);

        /// <summary>open(2) with a creation mode (O_CREAT).</summary>
        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern int open([MarshalAs(UnmanagedType.LPStr)] string pathname, int flags, int mode);

        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern IntPtr write(int fd, byte* buf, IntPtr count);

        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern int fsync(int fd);

        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern int fchmod(int fd, int mode);

        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern int rename([MarshalAs(UnmanagedType.LPStr)] string oldpath, [MarshalAs(UnmanagedType.LPStr)] string newpath);

        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern int unlink([MarshalAs(UnmanagedType.LPStr)] string pathname);

        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern int openat(int dirfd, byte* pathname, int flags);

        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern IntPtr read(int fd, byte* buf, IntPtr count);

        internal const int SEEK_SET = 0;

        /// <summary>lseek64: a 64-bit offset on every architecture (lseek's off_t is 32 bits on arm and x86).</summary>
        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern long lseek64(int fd, long offset, int whence);

        /// <summary>kill(pid, 0): whether a process still exists (ESRCH when gone).</summary>
        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern int kill(int pid, int sig);

        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern IntPtr readlinkat(int dirfd, byte* pathname, byte* buf, IntPtr bufsiz);

        /// <summary>glibc 2.30+ exports it; older C libraries (RHEL 8's 2.28) do not: use <see cref="GetDents64"/>.</summary>
        [DllImport(Libraries.Libc, EntryPoint = "getdents64", SetLastError = true)]
        private static extern IntPtr getdents64_native(int fd, byte* dirp, IntPtr count);

        private static volatile bool _getdents64Exported = true;

        /// <summary>
        /// getdents64(2): the glibc wrapper where it exists, else the raw system call, whose number
        /// differs by architecture (asm-generic 61 on arm64, 217 on x86_64).
        /// </summary>
        internal static IntPtr GetDents64(int fd, byte* dirp, IntPtr count)
        {
            if (_getdents64Exported)
            {
                try
                {
                    return getdents64_native(fd, dirp, count);
                }
                catch (EntryPointNotFoundException)
                {
                    _getdents64Exported = false;
                }
            }

            return GetDents64Syscall(fd, dirp, count);
        }

        internal static IntPtr GetDents64Syscall(int fd, byte* dirp, IntPtr count) =>
            syscall((IntPtr)LinuxAbi.Require().SYS_getdents64, (IntPtr)fd, (IntPtr)dirp, count);

        internal const int AT_FDCWD = -100;
        internal const int AT_EMPTY_PATH = 0x1000;
        internal const uint STATX_SIZE = 0x200;
        internal const int StatxSize = 256;          // struct statx
        internal const int StatxModeOffset = 28;     // stx_mode (u16)
        internal const int StatxSizeOffset = 40;     // stx_size
        internal const uint STATX_INO = 0x100;
        internal const int StatxInoOffset = 32;      // stx_ino

        /// <summary>glibc 2.28+; the same layout on every architecture.</summary>
        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern int statx(int dirfd, byte* pathname, int flags, uint mask, byte* statxbuf);

        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern int setns(int fd, int nstype);

        /// <summary>statfs f_type of nsfs (linux/magic.h).</summary>
        internal const long NSFS_MAGIC = 0x6e736673;

        /// <summary>The buffer is struct statfs, whose layout differs by architecture (LinuxAbi.StatfsType reads it).</summary>
        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern int fstatfs(int fd, byte* buf);

        /// <summary>ioctl(2) with no argument (NS_GET_NSTYPE); the request is an unsigned long.</summary>
        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern int ioctl(int fd, UIntPtr request, IntPtr arg);

        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern uint geteuid();

        [DllImport(Libraries.Libc, EntryPoint = "strerror")]
        private static extern IntPtr strerror_native(int errnum);

        internal static string StrError(int errno) =>
            Marshal.PtrToStringAnsi(strerror_native(errno)) ?? ("errno " + errno);

        // Close-TcpConnection -Method Shutdown: borrow the owner's descriptor (Linux 5.6+) and shut the socket down.
        internal const int SO_COOKIE = 57;
        internal const int SHUT_RDWR = 2;
        internal const int ENOTCONN = 107;

        /// <summary>For pidfd_open and pidfd_getfd, which glibc wraps only from 2.36. Arguments are C longs.</summary>
        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern IntPtr syscall(IntPtr number, IntPtr arg1, IntPtr arg2, IntPtr arg3);

        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern int shutdown(int sockfd, int how);

        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern int getsockopt(int sockfd, int level, int optname, ulong* optval, ref int optlen);

        internal const int IPPROTO_TCP = 6;
        internal const int TCP_INFO = 11;

        [DllImport(Libraries.Libc, SetLastError = true)]
        internal static extern int getsockopt(int sockfd, int level, int optname, byte* optval, ref int optlen);
    }
}
