using System;
using System.Runtime.InteropServices;

internal static partial class Interop
{
    /// <summary>
    /// A Linux file descriptor owned by a SafeHandle: closed exactly once, on Dispose or, if an
    /// exception skipped that, by the finalizer (as dotnet/runtime's SafeFileHandle on Unix).
    /// Descriptor 0 is valid; -1 (a failed open) is not.
    /// </summary>
    internal sealed class SafeDescriptor : SafeHandle
    {
        private SafeDescriptor()
            : base(new IntPtr(-1), ownsHandle: true)
        {
        }

        public override bool IsInvalid => handle.ToInt64() < 0;

        /// <summary>The descriptor, for a call while this handle is open; -1 once closed (a call then fails with EBADF, never reaches a reused number).</summary>
        internal int Value => IsClosed ? -1 : (int)handle.ToInt64();

        /// <summary>Takes ownership of what open()/socket() returned (a negative result stays invalid and is never closed).</summary>
        internal static SafeDescriptor Own(int fd)
        {
            var descriptor = new SafeDescriptor();
            descriptor.SetHandle(new IntPtr(fd));
            return descriptor;
        }

        protected override bool ReleaseHandle() => Libc.close((int)handle.ToInt64()) == 0;
    }
}
