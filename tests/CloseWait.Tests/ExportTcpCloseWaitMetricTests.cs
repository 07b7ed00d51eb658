using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using CloseWait.Platform;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>Export-TcpCloseWaitMetric in a hosted engine where a real kernel cannot help: a collection that fails, a file that cannot be written.</summary>
    [Collection("PowerShell")]
    public sealed class ExportTcpCloseWaitMetricTests : IDisposable
    {
        private readonly PowerShellFixture _ps;
        private readonly string _folder = Path.Combine(Path.GetTempPath(), "closewait-export-" + Guid.NewGuid().ToString("N").Substring(0, 8));

        public ExportTcpCloseWaitMetricTests(PowerShellFixture ps)
        {
            _ps = ps;
            Directory.CreateDirectory(_folder);
        }

        public void Dispose() => Directory.Delete(_folder, true);

        [Fact]
        public void AFailedCollectionStillReplacesTheFileWithSuccessZeroAndTheLastSuccessCarriedOver()
        {
            string file = Path.Combine(_folder, "closewait.prom");
            File.WriteAllText(file, "# HELP closewait_last_success_timestamp_seconds x\n# TYPE closewait_last_success_timestamp_seconds gauge\nclosewait_last_success_timestamp_seconds 1700000000.5\n");
            PSResult r;
            using (PlatformServices.UseBackEnds(new FailingTable(), new NoOwners()))
            {
                r = _ps.Run("Export-TcpCloseWaitMetric -Path $file", new Dictionary<string, object?> { ["file"] = file });
            }

            var error = Assert.Single(r.Errors);
            Assert.Equal("SocketTableReadFailed,CloseWait.Commands.ExportTcpCloseWaitMetricCommand", error.FullyQualifiedErrorId);
            string text = File.ReadAllText(file);
            Assert.Contains("closewait_collection_success 0\n", text);
            Assert.Contains("closewait_last_success_timestamp_seconds 1700000000.5\n", text);
            Assert.DoesNotContain("closewait_sockets", text);
            Assert.Equal(new[] { "closewait.prom" }, Directory.GetFiles(_folder).Select(Path.GetFileName));
        }

        [Fact]
        public void AFileThatCannotBeWrittenIsMetricWriteFailedAndLeavesNoTemporaryFile()
        {
            // A folder where the file should be: the rename cannot put a file there.
            string file = Path.Combine(_folder, "taken.prom");
            Directory.CreateDirectory(file);
            PSResult r;
            using (PlatformServices.UseBackEnds(new EmptyTable(), new NoOwners()))
            {
                r = _ps.Run("Export-TcpCloseWaitMetric -Path $file", new Dictionary<string, object?> { ["file"] = file });
            }

            var error = Assert.Single(r.Errors);
            Assert.Equal("MetricWriteFailed,CloseWait.Commands.ExportTcpCloseWaitMetricCommand", error.FullyQualifiedErrorId);
            Assert.Empty(Directory.GetFiles(_folder));
        }

        private sealed class FailingTable : ISocketTable
        {
            // As a back end reports a failed read: translated at the platform boundary.
            public IEnumerable<TcpConnection> Read(SocketQuery query, CancellationToken cancellationToken) =>
                throw new CloseWaitException(ErrorIds.SocketTableReadFailed, System.Management.Automation.ErrorCategory.ReadError, "the socket table broke", null, new IOException("the socket table broke"));
        }

        private sealed class EmptyTable : ISocketTable
        {
            public IEnumerable<TcpConnection> Read(SocketQuery query, CancellationToken cancellationToken) => new TcpConnection[0];
        }

        private sealed class NoOwners : IOwnerResolver
        {
            public int Resolve(IReadOnlyList<TcpConnection> connections, CancellationToken cancellationToken) => 0;
        }
    }
}
