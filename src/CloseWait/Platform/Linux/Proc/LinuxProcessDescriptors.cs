using System;
using System.IO;
using System.Text;

namespace CloseWait.Platform.Linux
{
    /// <summary>
    /// A process's open descriptors (the entries of /proc/&lt;pid&gt;/fd: its size on Linux 6.2+,
    /// else a getdents64 count) and its soft RLIMIT_NOFILE ("Max open files" in /proc/&lt;pid&gt;/limits).
    /// </summary>
    internal sealed unsafe class LinuxProcessDescriptors : IProcessDescriptors
    {
        private const string OpenFilesLine = "Max open files";

        public bool TryGet(int pid, out int open, out long? limit)
        {
            open = 0;
            limit = null;
            long count = CountOpen(pid);
            if (count < 0)
            {
                return false;
            }

            open = (int)Math.Min(count, int.MaxValue);
            try
            {
                using (var reader = new StreamReader(Path.Combine(LinuxOwnerResolver.ProcRoot, pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "limits")))
                {
                    ParseOpenFilesLimit(reader, out limit);
                }
            }
            catch (IOException)
            {
                // Gone since the count: the count still stands, the limit stays unknown.
            }
            catch (UnauthorizedAccessException)
            {
            }

            return true;
        }

        /// <summary>
        /// Open descriptors of <paramref name="pid"/>, or -1 when its /proc/&lt;pid&gt;/fd cannot be read.
        /// <paramref name="kernelSize"/> false skips the directory's size (tests: the pre-6.2 path).
        /// </summary>
        internal static long CountOpen(int pid, bool kernelSize = true)
        {
            byte[] path = Encoding.ASCII.GetBytes($"{LinuxOwnerResolver.ProcRoot}/{pid}/fd\0");
            int dirFd;
            fixed (byte* p = path)
            {
                dirFd = Interop.Libc.openat(Interop.Libc.AT_FDCWD, p, Interop.Libc.O_RDONLY | Interop.Libc.O_DIRECTORY | Interop.Libc.O_CLOEXEC);
            }

            if (dirFd < 0)
            {
                return -1;
            }

            try
            {
                long count = kernelSize ? LinuxOwnerResolver.OpenDescriptorCount(dirFd, new byte[Interop.Libc.StatxSize]) : -1;
                return count > 0 ? count : LinuxOwnerResolver.CountDirectoryDescriptors(dirFd, new byte[LinuxOwnerResolver.DirBufferSize]);
            }
            finally
            {
                Interop.Libc.close(dirFd);
            }
        }

        /// <summary>
        /// Reads the soft limit from /proc/&lt;pid&gt;/limits text ("Max open files  1024  1048576  files");
        /// null when "unlimited". False when the line is missing or unreadable.
        /// </summary>
        internal static bool ParseOpenFilesLimit(TextReader reader, out long? soft)
        {
            soft = null;
            string? line;
            while ((line = reader.ReadLine()) != null)
            {
                if (!line.StartsWith(OpenFilesLine, StringComparison.Ordinal))
                {
                    continue;
                }

                string[] fields = line.Substring(OpenFilesLine.Length).Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length == 0)
                {
                    return false;
                }

                if (fields[0] == "unlimited")
                {
                    return true;
                }

                if (long.TryParse(fields[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long value))
                {
                    soft = value;
                    return true;
                }

                return false;
            }

            return false;
        }
    }
}
