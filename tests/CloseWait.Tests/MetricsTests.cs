using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using CloseWait.Platform;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>Export-TcpCloseWaitMetric's pure parts: the text format, escaping, folding, the metrics built from a snapshot, and one read per collection.</summary>
    public sealed class MetricsTests
    {
        private static int _nextPort = 41000;

        private static TcpConnection CloseWait(int pid, string name, double stuckSeconds = 600, long unread = 0, bool endOfStreamRead = true, int localPort = 8080) =>
            new TcpConnection(AddressFamily.InterNetwork, IPAddress.Parse("10.0.0.1"), localPort, IPAddress.Parse("10.0.0.9"), _nextPort++, TcpState.CloseWait, 8, "Netlink")
            {
                ProcessId = pid,
                Program = name,
                Owners = new[] { new TcpSocketOwner(pid, name, 7) },
                ReceiveQueue = unread,
                EndOfStreamRead = endOfStreamRead,
                IdleTime = TimeSpan.FromSeconds(stuckSeconds),
                DataIdleTime = TimeSpan.FromSeconds(stuckSeconds + 0.01),
                Inode = 1,
            };

        private static TcpConnection Listener(int port = 8080) =>
            new TcpConnection(AddressFamily.InterNetwork, IPAddress.Any, port, IPAddress.Any, 0, TcpState.Listen, 10, "Netlink") { ProcessId = 1, Program = "server", Inode = 2 };

        private static TcpConnection Outbound(string remote, int remotePort, TcpState state = TcpState.Established) =>
            new TcpConnection(AddressFamily.InterNetwork, IPAddress.Parse("10.0.0.1"), _nextPort++, IPAddress.Parse(remote), remotePort, state, 1, "Netlink");

        private static string Text(IEnumerable<MetricFamily> families) => PrometheusText.ToText(families);

        private static MetricSnapshot Snapshot(IEnumerable<TcpConnection> closeWait, IProcessDescriptors? descriptors = null)
        {
            var s = new MetricSnapshot();
            s.Listeners.Add(Listener());
            s.Diagnoses.AddRange(CloseWaitAnalyzer.Analyze(closeWait, s.Listeners, descriptors, new CloseWaitThresholds()));
            return s;
        }

        private static List<string> Samples(string text, string name) =>
            text.Split('\n').Where(l => l.StartsWith(name + "{", StringComparison.Ordinal) || l.StartsWith(name + " ", StringComparison.Ordinal)).ToList();

        [Theory]
        [InlineData("plain", "plain")]
        [InlineData("a\\b", "a\\\\b")]
        [InlineData("say \"hi\"", "say \\\"hi\\\"")]
        [InlineData("two\nlines", "two\\nlines")]
        [InlineData("\\\"\n", "\\\\\\\"\\n")]
        public void LabelValuesAreEscapedAsTheFormatSays(string value, string expected) =>
            Assert.Equal(expected, PrometheusText.EscapeLabelValue(value));

        [Fact]
        public void HelpEscapesBackslashAndLineFeedButNotQuotes() =>
            Assert.Equal("a \\\\ \"b\"\\nc", PrometheusText.EscapeHelp("a \\ \"b\"\nc"));

        [Theory]
        [InlineData(0, "0")]
        [InlineData(28232, "28232")]
        [InlineData(-3, "-3")]
        [InlineData(0.25, "0.25")]
        [InlineData(double.NaN, "NaN")]
        [InlineData(double.PositiveInfinity, "+Inf")]
        [InlineData(double.NegativeInfinity, "-Inf")]
        public void ValuesAreWrittenAsGoParsesThem(double value, string expected) =>
            Assert.Equal(expected, PrometheusText.FormatValue(value));

        [Fact]
        public void ValuesIgnoreTheCurrentCulture()
        {
            var saved = Thread.CurrentThread.CurrentCulture;
            try
            {
                Thread.CurrentThread.CurrentCulture = new System.Globalization.CultureInfo("de-DE");
                Assert.Equal("1.5", PrometheusText.FormatValue(1.5));
            }
            finally
            {
                Thread.CurrentThread.CurrentCulture = saved;
            }
        }

        [Fact]
        public void EveryFamilyHasHelpAndTypeAndEmptyLabelsAreLeftOut()
        {
            var f = new MetricFamily("closewait_x", "Help.", MetricAggregation.Sum, "service", "container");
            f.Add(2, "nginx", string.Empty);
            f.Add(3, "app \"1\"", "web");
            Assert.Equal(
                "# HELP closewait_x Help.\n# TYPE closewait_x gauge\nclosewait_x{service=\"nginx\"} 2\nclosewait_x{service=\"app \\\"1\\\"\",container=\"web\"} 3\n",
                Text(new[] { f }));
        }

        [Fact]
        public void SameLabelsCombineBySumOrMax()
        {
            var sum = new MetricFamily("a", "h", MetricAggregation.Sum, "service");
            var max = new MetricFamily("b", "h", MetricAggregation.Max, "service");
            foreach (var v in new[] { 3.0, 5.0 })
            {
                sum.Add(v, "s");
                max.Add(v, "s");
            }

            Assert.Equal(8, Assert.Single(sum.Samples).Value);
            Assert.Equal(5, Assert.Single(max.Samples).Value);
        }

        [Fact]
        public void FoldingKeepsTheLargestAndFoldsTheRestIntoOther()
        {
            var f = new MetricFamily("closewait_stuck_sockets", "h", MetricAggregation.Sum, "service", "cause", "container");
            f.Add(50, "big", "NotClosed", "c1");
            f.Add(20, "mid", "NotRead", "c2");
            f.Add(2, "small", "NotRead", "c3");
            f.Add(1, "tiny", "NotRead", "c4");
            f.Add(4, "tiny", "NotClosed", "c4");
            var kept = PrometheusText.Largest(f.Samples.Select(s => new KeyValuePair<string, double>(s.Key[0], s.Value)), 2);
            Assert.Equal(new[] { "big", "mid" }, kept.OrderBy(k => k));

            var folded = f.Fold("service", kept, "cause");
            var rows = folded.Samples.ToDictionary(s => string.Join("/", s.Key), s => s.Value);
            Assert.Equal(50, rows["big/NotClosed/c1"]);
            Assert.Equal(20, rows["mid/NotRead/c2"]);
            // The folded ones keep their cause, lose their container (unbounded), and add up.
            Assert.Equal(3, rows["other/NotRead/"]);
            Assert.Equal(4, rows["other/NotClosed/"]);
            Assert.Equal(4, rows.Count);
        }

        [Fact]
        public void LargestBreaksTiesByNameSoTheFileDoesNotFlap()
        {
            var w = new[] { "b", "a", "c" }.Select(k => new KeyValuePair<string, double>(k, 1));
            Assert.Equal(new[] { "a", "b" }, PrometheusText.Largest(w, 2).OrderBy(k => k));
        }

        [Fact]
        public void StuckSocketsPerServiceAndCauseWithoutThePid()
        {
            var sockets = new List<TcpConnection>();
            sockets.AddRange(Enumerable.Range(0, 3).Select(_ => CloseWait(200, "gunicorn", stuckSeconds: 700)));
            sockets.AddRange(Enumerable.Range(0, 2).Select(_ => CloseWait(201, "gunicorn", stuckSeconds: 900, unread: 10)));
            sockets.Add(CloseWait(300, "nginx", stuckSeconds: 5));
            var text = Text(CloseWaitMetrics.Build(Snapshot(sockets), new MetricOptions()));

            // Two workers of one program are one service; the PID appears nowhere.
            Assert.Contains("closewait_stuck_sockets{service=\"gunicorn\",cause=\"NotClosed\"} 3\n", text);
            Assert.Contains("closewait_stuck_sockets{service=\"gunicorn\",cause=\"NotRead\"} 2\n", text);
            Assert.Contains("closewait_close_wait_sockets{service=\"gunicorn\"} 5\n", text);
            Assert.Contains("closewait_stuck_oldest_seconds{service=\"gunicorn\"} 900\n", text);
            // nginx's one socket is brief: counted, not stuck.
            Assert.Contains("closewait_close_wait_sockets{service=\"nginx\"} 1\n", text);
            Assert.DoesNotContain("closewait_stuck_sockets{service=\"nginx\"", text);
            Assert.DoesNotContain("200", text.Replace("closewait_sockets", string.Empty));
            Assert.DoesNotContain("pid", text, StringComparison.OrdinalIgnoreCase);
        }

        [Fact]
        public void UnownedAcceptBacklogBelongsToTheListenersService()
        {
            var orphan = CloseWait(1, "x");
            orphan.ProcessId = null;
            orphan.Program = null;
            orphan.Owners = new TcpSocketOwner[0];
            orphan.Inode = null;
            var text = Text(CloseWaitMetrics.Build(Snapshot(new[] { orphan }), new MetricOptions()));
            // Issue 18: the unaccepted sockets in a listener's queue are that listener's service.
            Assert.Contains("closewait_stuck_sockets{service=\"server :8080\",cause=\"AcceptBacklog\"} 1\n", text);
        }

        [Fact]
        public void MaxSeriesFoldsTheSmallerServicesIntoOther()
        {
            var sockets = new List<TcpConnection>();
            for (int i = 0; i < 5; i++)
            {
                sockets.AddRange(Enumerable.Range(0, i + 1).Select(_ => CloseWait(1000 + i, "svc" + i)));
            }

            var text = Text(CloseWaitMetrics.Build(Snapshot(sockets), new MetricOptions { MaxSeries = 2 }));
            var stuck = Samples(text, "closewait_stuck_sockets");
            Assert.Equal(3, stuck.Count);
            Assert.Contains("closewait_stuck_sockets{service=\"svc4\",cause=\"NotClosed\"} 5", stuck);
            Assert.Contains("closewait_stuck_sockets{service=\"svc3\",cause=\"NotClosed\"} 4", stuck);
            Assert.Contains("closewait_stuck_sockets{service=\"other\",cause=\"NotClosed\"} 6", stuck);
            // The same services are kept in every per-service metric.
            Assert.Equal(3, Samples(text, "closewait_stuck_oldest_seconds").Count);
            Assert.Contains("closewait_close_wait_sockets{service=\"other\"} 6", Samples(text, "closewait_close_wait_sockets"));
        }

        [Fact]
        public void DescriptorsComeFromTheProcessNearestItsLimit()
        {
            var sockets = new[] { CloseWait(200, "app"), CloseWait(201, "app") };
            var text = Text(CloseWaitMetrics.Build(Snapshot(sockets, new Descriptors { [200] = (900, 1024), [201] = (100, 65536) }), new MetricOptions()));
            Assert.Contains("closewait_process_open_fds{service=\"app\"} 900\n", text);
            Assert.Contains("closewait_process_max_fds{service=\"app\"} 1024\n", text);
        }

        [Fact]
        public void EveryCommonStateIsWrittenEvenWhenZero()
        {
            var s = new MetricSnapshot();
            s.States[TcpState.CloseWait] = 7;
            var text = Text(CloseWaitMetrics.Build(s, new MetricOptions()));
            Assert.Contains("closewait_sockets{state=\"CloseWait\"} 7\n", text);
            Assert.Contains("closewait_sockets{state=\"Established\"} 0\n", text);
            Assert.Equal(11, Samples(text, "closewait_sockets").Count);
        }

        [Fact]
        public void ContainerAndPodLabelsOnlyWhenAsked()
        {
            var c = CloseWait(200, "app");
            c.ContainerName = "web-1";
            c.PodName = "web-5d9f";
            c.PodNamespace = "shop";
            var snapshot = Snapshot(new[] { c });
            Assert.Contains("closewait_stuck_sockets{service=\"app\",cause=\"NotClosed\",container=\"web-1\",pod=\"web-5d9f\",pod_namespace=\"shop\"} 1\n",
                Text(CloseWaitMetrics.Build(snapshot, new MetricOptions { PlacementLabels = true })));
            Assert.Contains("closewait_stuck_sockets{service=\"app\",cause=\"NotClosed\"} 1\n",
                Text(CloseWaitMetrics.Build(snapshot, new MetricOptions())));
        }

        [Fact]
        public void FailedCollectionCarriesTheLastSuccessOver()
        {
            var earlier = Text(CloseWaitMetrics.Collector(true, 0.5, 1700000000.25));
            Assert.Contains("closewait_collection_success 1\n", earlier);
            double? last = PrometheusText.ReadSample(earlier, CloseWaitMetrics.LastSuccessName);
            Assert.Equal(1700000000.25, last);
            var failed = Text(CloseWaitMetrics.Collector(false, 0.1, last));
            Assert.Contains("closewait_collection_success 0\n", failed);
            Assert.Contains("closewait_last_success_timestamp_seconds 1700000000.25\n", failed);
            Assert.Null(PrometheusText.ReadSample("closewait_collection_success 0\n", CloseWaitMetrics.LastSuccessName));
        }

        [Fact]
        public void OneCollectionReadsTheSocketTableOnce()
        {
            var table = new FakeTable(new[]
            {
                Listener(),
                CloseWait(200, "app"),
                CloseWait(200, "app"),
                Outbound("10.0.0.50", 5432),
                Outbound("10.0.0.50", 5432, TcpState.TimeWait),
                Outbound("10.0.0.60", 443),
            });
            var collector = new MetricCollector(table, new NoOwners(), null, null, new FakePorts());
            var snapshot = collector.Collect(new SocketQuery(), new CloseWaitThresholds(), CancellationToken.None);

            Assert.Equal(1, table.Reads);
            Assert.Equal(1, collector.Reads);
            Assert.Null(table.LastQuery!.States);
            Assert.True(table.LastQuery.IncludeDetails);
            Assert.Equal(2, snapshot.States[TcpState.CloseWait]);
            Assert.Equal(2, snapshot.States[TcpState.Established]);
            Assert.Equal(1, snapshot.States[TcpState.Listen]);
            Assert.Equal(2, Assert.Single(snapshot.Diagnoses).Count);
            Assert.Single(snapshot.Listeners);

            var text = Text(CloseWaitMetrics.Build(snapshot, new MetricOptions { MaxSeries = 1 }));
            Assert.Contains("closewait_ephemeral_ports_in_use{destination=\"10.0.0.50:5432\",local_address=\"10.0.0.1\"} 2\n", text);
            Assert.Contains("closewait_ephemeral_ports_usable{destination=\"10.0.0.50:5432\",local_address=\"10.0.0.1\"} 28232\n", text);
            Assert.Contains("closewait_ephemeral_ports_in_use{destination=\"other\"} 1\n", text);
        }

        [Fact]
        public void WithoutCloseWaitThereIsNoOwnerWalk()
        {
            var table = new FakeTable(new[] { Listener(), Outbound("10.0.0.50", 5432) });
            var owners = new CountingOwners();
            var snapshot = new MetricCollector(table, owners, null, null, null).Collect(new SocketQuery(), new CloseWaitThresholds(), CancellationToken.None);
            Assert.Equal(0, owners.Walks);
            Assert.Empty(snapshot.Diagnoses);

            table = new FakeTable(new[] { Listener(), CloseWait(200, "app") });
            new MetricCollector(table, owners, null, null, null).Collect(new SocketQuery(), new CloseWaitThresholds(), CancellationToken.None);
            Assert.Equal(1, owners.Walks);
        }

        private sealed class CountingOwners : IOwnerResolver
        {
            public int Walks { get; private set; }

            public int Resolve(IReadOnlyList<TcpConnection> connections, CancellationToken cancellationToken)
            {
                Walks++;
                return 0;
            }
        }

        private sealed class Descriptors : Dictionary<int, (int Open, long Limit)>, IProcessDescriptors
        {
            public bool TryGet(int pid, out int open, out long? limit)
            {
                bool found = TryGetValue(pid, out var v);
                open = v.Open;
                limit = found ? v.Limit : (long?)null;
                return found;
            }
        }

        private sealed class FakeTable : ISocketTable
        {
            private readonly TcpConnection[] _rows;

            public FakeTable(TcpConnection[] rows) => _rows = rows;

            public int Reads { get; private set; }

            public SocketQuery? LastQuery { get; private set; }

            public IEnumerable<TcpConnection> Read(SocketQuery query, CancellationToken cancellationToken)
            {
                Reads++;
                LastQuery = query;
                return _rows.Where(c => query.WantsState(c.State)).ToList();
            }
        }

        /// <summary>Owners as the constructed sockets already carry them.</summary>
        private sealed class NoOwners : IOwnerResolver
        {
            public int Resolve(IReadOnlyList<TcpConnection> connections, CancellationToken cancellationToken) => 0;
        }

        private sealed class FakePorts : ITimeWaitStore
        {
            public string Platform => "Linux";

            public string? PersistTarget => null;

            public bool AppliesAtRestart => false;

            public IReadOnlyCollection<TimeWaitField> Fields => new TimeWaitField[0];

            public TcpTimeWaitSetting Read(string? networkNamespace) =>
                new TcpTimeWaitSetting { Platform = "Linux", PortRangeStart = 32768, PortRangeEnd = 60999, RangeSize = 28232 };

            public ICollection<int> ListeningPorts(string? networkNamespace) => new int[0];

            public TimeWaitReading ReadForPlan(TimeWaitChange change, string? networkNamespace) => throw new NotSupportedException();

            public TcpTimeWaitSetting? Write(TimeWaitChange change, string? networkNamespace, TcpTimeWaitSetting? planned = null, bool readBack = false) => throw new NotSupportedException();

            public void Persist(TimeWaitChange values) => throw new NotSupportedException();
        }
    }
}
