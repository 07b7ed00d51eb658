using System;
using System.Text;

namespace CloseWait.Platform.Linux
{
    /// <summary>
    /// Reading and writing one /proc/sys file, as the keepalive and TIME_WAIT stores share it. Files
    /// are opened on the calling thread, and /proc/sys/net shows the network namespace of the
    /// thread that opens it, so on a thread that joined another namespace these read and write that
    /// namespace's values. Failures come back as an errno for the store to word.
    /// </summary>
    internal static class LinuxProcSys
    {
        /// <summary>The file's text (a sysctl's value is short); 0 or the errno of the failed open or read.</summary>
        internal static unsafe int TryRead(string path, out string text)
        {
            text = string.Empty;
            int fd = Interop.Libc.open(path, Interop.Libc.O_RDONLY | Interop.Libc.O_CLOEXEC);
            if (fd < 0)
            {
                return LinuxErrno.Last();
            }

            const int Size = 4096;
            byte* buffer = stackalloc byte[Size];
            long n;
            int errno = 0;
            try
            {
                n = (long)Interop.Libc.read(fd, buffer, (IntPtr)Size);
                if (n < 0)
                {
                    errno = LinuxErrno.Last(); // before close(), which resets the saved errno
                }
            }
            finally
            {
                Interop.Libc.close(fd);
            }

            if (errno == 0)
            {
                text = Encoding.ASCII.GetString(buffer, (int)n);
            }

            return errno;
        }

        /// <summary>Opens the file for writing and closes it: "not root" and "read-only" show before anything is written. 0 or the errno.</summary>
        internal static int CheckWritable(string path)
        {
            int fd = Interop.Libc.open(path, Interop.Libc.O_WRONLY | Interop.Libc.O_CLOEXEC);
            if (fd < 0)
            {
                return LinuxErrno.Last();
            }

            Interop.Libc.close(fd);
            return 0;
        }

        /// <summary>Writes the value in one write (the kernel parses the whole value from it); 0 or the errno.</summary>
        internal static int TryWrite(string path, string value)
        {
            // O_TRUNC as a shell's `echo 300 >` does: /proc/sys ignores it, a plain file (a test's scratch tree) needs it.
            int fd = Interop.Libc.open(path, Interop.Libc.O_WRONLY | Interop.Libc.O_TRUNC | Interop.Libc.O_CLOEXEC);
            if (fd < 0)
            {
                return LinuxErrno.Last();
            }

            int errno = 0;
            try
            {
                if (!WriteAll(fd, Encoding.ASCII.GetBytes(value + "\n")))
                {
                    errno = LinuxErrno.Last();
                }
            }
            finally
            {
                if (Interop.Libc.close(fd) != 0 && errno == 0)
                {
                    errno = LinuxErrno.Last();
                }
            }

            return errno;
        }

        internal static unsafe bool WriteAll(int fd, byte[] bytes)
        {
            fixed (byte* p = bytes)
            {
                int offset = 0;
                while (offset < bytes.Length)
                {
                    long n = (long)Interop.Libc.write(fd, p + offset, (IntPtr)(bytes.Length - offset));
                    if (n < 0)
                    {
                        if (LinuxErrno.Last() == Interop.Libc.EINTR)
                        {
                            continue;
                        }

                        return false;
                    }

                    offset += (int)n;
                }
            }

            return true;
        }
    }
}
