using System;
using System.IO;
using System.Management.Automation;

namespace CloseWait.Platform.Linux
{
    /// <summary>
    /// The platform boundary of the Linux socket table: a netlink error, a malformed reply or a
    /// refused /proc read becomes the CloseWaitException a user sees, so commands never see an
    /// errno or a netlink exception.
    /// </summary>
    internal static class LinuxTableFailures
    {
        /// <summary>The error for a failure of the table; null for exceptions that are bugs (they pass through).</summary>
        internal static CloseWaitException? Translate(Exception ex)
        {
            switch (ex)
            {
                case NetlinkErrorException nl when nl.Errno == Interop.Libc.EACCES || nl.Errno == Interop.Libc.EPERM:
                    return new CloseWaitException(ErrorIds.SocketTableAccessDenied, ErrorCategory.PermissionDenied,
                        $"The kernel refused to list sockets ({nl.Message}). " + LinuxErrno.PermissionAdvice("NETLINK_SOCK_DIAG"), null, nl) { NativeError = nl.Errno };
                case NetlinkErrorException nl:
                    return new CloseWaitException(ErrorIds.SocketTableReadFailed, ErrorCategory.ReadError, nl.Message, null, nl) { NativeError = nl.Errno };
                case InvalidDataException bad:
                    return new CloseWaitException(ErrorIds.SocketTableMalformed, ErrorCategory.InvalidData, bad.Message, null, bad);
                case UnauthorizedAccessException denied:
                    return new CloseWaitException(ErrorIds.SocketTableAccessDenied, ErrorCategory.PermissionDenied, denied.Message, null, denied);
                case IOException io:
                    return new CloseWaitException(ErrorIds.SocketTableReadFailed, ErrorCategory.ReadError, io.Message, null, io);
                default:
                    return null;
            }
        }

        /// <summary>Enumerates <paramref name="source"/>, turning its failures into CloseWaitException.</summary>
        internal static System.Collections.Generic.IEnumerable<T> Translated<T>(System.Collections.Generic.IEnumerable<T> source)
        {
            using var e = Run(source.GetEnumerator);
            while (true)
            {
                bool more;
                try
                {
                    more = e.MoveNext();
                }
                catch (Exception ex) when (Translate(ex) is CloseWaitException failure)
                {
                    throw failure;
                }

                if (!more)
                {
                    yield break;
                }

                yield return e.Current;
            }
        }

        /// <summary>Runs <paramref name="body"/>, turning its failures into CloseWaitException.</summary>
        internal static T Run<T>(Func<T> body)
        {
            try
            {
                return body();
            }
            catch (Exception ex) when (Translate(ex) is CloseWaitException failure)
            {
                throw failure;
            }
        }
    }
}
