using System.IO;
using CloseWait.Platform.Linux;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>Issue 20: the netlink socket's descriptor is owned by a SafeHandle (closed once; never used after).</summary>
    public sealed class SafeDescriptorTests
    {
        [Fact]
        public void AFailedOpenIsInvalidAndNeverClosed()
        {
            var d = Interop.SafeDescriptor.Own(-1);
            Assert.True(d.IsInvalid);
            d.Dispose();
            Assert.Equal(-1, d.Value);
        }

        [Fact]
        public void ADescriptorIsClosedOnDisposeAndReadsAsMinusOneAfter()
        {
            if (!Prerequisites.IsLinux)
            {
                return;
            }

            var d = Interop.SafeDescriptor.Own(Interop.Libc.open("/dev/null", Interop.Libc.O_RDONLY | Interop.Libc.O_CLOEXEC));
            Assert.False(d.IsInvalid);
            int fd = d.Value;
            Assert.True(File.Exists($"/proc/self/fd/{fd}"));
            d.Dispose();
            d.Dispose(); // a second Dispose closes nothing
            Assert.True(d.IsClosed);
            Assert.Equal(-1, d.Value);
        }

        [Fact]
        public void TheNetlinkSocketDisposesTwiceWithoutError()
        {
            if (!Prerequisites.IsLinux)
            {
                return;
            }

            var socket = LinuxNetlinkSocket.Open();
            socket.Dispose();
            socket.Dispose();
        }
    }
}
