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
    /// <summary>The watch's logic on constructed samples: identities of each platform's table, durations, the growth rule.</summary>
    public sealed class CloseWaitTrackerTests
    {
        private static readonly DateTime T0 = new DateTime(2026, 11, 27, 12, 0, 0);

        private static DateTime At(double seconds) => T0.AddSeconds(seconds);

        /// <summary>A socket as the Linux netlink table gives it: cookie, inode, idle time.</summary>
        private static TcpConnection Linux(ulong cookie, int remotePort, double idleSeconds, int? pid = 100, int localPort = 8080) =>
            new TcpConnection(AddressFamily.InterNetwork, IPAddress.Loopback, localPort, IPAddress.Loopback, remotePort, TcpState.CloseWait, 8, "Netlink")
            {
                Cookie = cookie,
                Inode = cookie + 1000,
                IdleTime = TimeSpan.FromSeconds(idleSeconds),
                ProcessId = pid,
                Program = pid == null ? null : "svc" + pid,
            };

        /// <summary>A socket as GetExtendedTcpTable gives it: 4-tuple, creation time, owning PID, no idle time.</summary>
        private static TcpConnection Windows(int remotePort, DateTime created, int pid = 200) =>
            new TcpConnection(AddressFamily.InterNetwork, IPAddress.Parse("10.0.0.1"), 443, IPAddress.Parse("10.0.0.2"), remotePort, TcpState.CloseWait, 8, "GetExtendedTcpTable")
            {
                CreationTime = created,
                ProcessId = pid,
                Program = "w3wp",
            };

        /// <summary>A socket as macOS pcblist_n gives it: 4-tuple and the last PID, no idle time.</summary>
        private static TcpConnection MacOS(int remotePort, int pid = 300) =>
            new TcpConnection(AddressFamily.InterNetworkV6, IPAddress.IPv6Loopback, 5432, IPAddress.IPv6Loopback, remotePort, TcpState.CloseWait, 5, "Sysctl")
            {
                ProcessId = pid,
                Program = "postgres",
            };

        [Fact]
        public void EnteredThenLeftWithTheMeasuredDuration()
        {
            var tracker = new CloseWaitTracker();
            Assert.Empty(tracker.Observe(At(0), new TcpConnection[0]));
            var entered = Assert.Single(tracker.Observe(At(1), new[] { Linux(7, 50000, idleSeconds: 0.3) }));
            Assert.Equal("Entered", entered.Event);
            Assert.Equal(At(1), entered.Time);
            Assert.Equal(100, entered.ProcessId);
            Assert.Equal(100, entered.Id.ProcessId);
            Assert.Equal("svc100", entered.Program);
            Assert.Equal(8080, entered.LocalPort);
            Assert.Equal(50000, entered.RemotePort);
            Assert.Equal(7UL, entered.Connection!.Cookie);

            for (int s = 2; s <= 5; s++)
            {
                Assert.Empty(tracker.Observe(At(s), new[] { Linux(7, 50000, idleSeconds: s - 0.7) }));
            }

            var left = Assert.Single(tracker.Observe(At(6), new TcpConnection[0]));
            Assert.Equal("Left", left.Event);
            Assert.Equal(At(6), left.Time);
            Assert.Equal(7UL, left.Connection!.Cookie);

            // Entered 0.3 s before first seen at 1 s, last seen at 5 s.
            Assert.Equal(TimeSpan.FromSeconds(4.3), left.Duration);
            Assert.Equal(0, tracker.Tracking);
        }

        [Fact]
        public void AlreadyStuckAtTheStartCountsTheKernelsStuckTime()
        {
            var tracker = new CloseWaitTracker();
            var entered = Assert.Single(tracker.Observe(At(0), new[] { Linux(1, 40000, idleSeconds: 3600) }));
            Assert.Equal("Entered", entered.Event);
            Assert.Equal(TimeSpan.FromHours(1), entered.Duration);
            tracker.Observe(At(10), new[] { Linux(1, 40000, idleSeconds: 3610) });
            var left = Assert.Single(tracker.Observe(At(20), new TcpConnection[0]));
            Assert.Equal(TimeSpan.FromSeconds(3610), left.Duration);
        }

        [Fact]
        public void ASocketSeenDuringTheWatchEnteredNoEarlierThanTheSampleBefore()
        {
            // IdleTime counts from the peer's last data, which can predate the FIN: it was not in CLOSE_WAIT at 0 s.
            var tracker = new CloseWaitTracker();
            tracker.Observe(At(0), new TcpConnection[0]);
            tracker.Observe(At(1), new[] { Linux(9, 41000, idleSeconds: 500) });
            tracker.Observe(At(2), new[] { Linux(9, 41000, idleSeconds: 501) });
            var left = Assert.Single(tracker.Observe(At(3), new TcpConnection[0]));
            Assert.Equal(TimeSpan.FromSeconds(2), left.Duration);
        }

        [Fact]
        public void ANewCookieOnTheSameAddressesIsANewSocket()
        {
            var tracker = new CloseWaitTracker();
            tracker.Observe(At(0), new[] { Linux(1, 40000, 0) });
            var events = tracker.Observe(At(1), new[] { Linux(2, 40000, 0) });
            Assert.Equal(new[] { "Left", "Entered" }, events.Select(e => e.Event));
            Assert.Equal(1UL, events[0].Connection!.Cookie);
            Assert.Equal(2UL, events[1].Connection!.Cookie);
        }

        [Fact]
        public void WindowsIdentityIsTheFourTupleAndCreationTime()
        {
            var created = new DateTime(2026, 11, 27, 11, 0, 0);
            var tracker = new CloseWaitTracker();
            var first = Assert.Single(tracker.Observe(At(0), new[] { Windows(50001, created) }));
            Assert.Null(first.Duration); // no idle time in this table: how long it was stuck before is unknown
            Assert.Empty(tracker.Observe(At(1), new[] { Windows(50001, created) }));
            Assert.Empty(tracker.Observe(At(2), new[] { Windows(50001, created) }));

            // Same addresses, created later: the old socket left, a new one entered.
            var events = tracker.Observe(At(3), new[] { Windows(50001, created.AddSeconds(2.5)) });
            Assert.Equal(new[] { "Left", "Entered" }, events.Select(e => e.Event));
            Assert.Equal(TimeSpan.FromSeconds(2), events[0].Duration); // first seen to last seen
            Assert.Equal(200, events[0].ProcessId);
            Assert.Equal("w3wp", events[0].Program);
        }

        [Fact]
        public void MacOSIdentityIsTheFourTuple()
        {
            var tracker = new CloseWaitTracker();
            tracker.Observe(At(0), new[] { MacOS(60000), MacOS(60001) });
            Assert.Empty(tracker.Observe(At(1), new[] { MacOS(60001), MacOS(60000) }));
            var left = Assert.Single(tracker.Observe(At(2.5), new[] { MacOS(60001) }));
            Assert.Equal("Left", left.Event);
            Assert.Equal(60000, left.RemotePort);
            Assert.Equal(TimeSpan.FromSeconds(1), left.Duration);
        }

        [Fact]
        public void OnlyCloseWaitSocketsAreTrackedAndDuplicatesCountOnce()
        {
            var tracker = new CloseWaitTracker();
            var established = Linux(5, 1, 0);
            established.State = TcpState.Established;
            var events = tracker.Observe(At(0), new[] { established, Linux(6, 2, 0), Linux(6, 2, 0) });
            Assert.Equal(6UL, Assert.Single(events).Connection!.Cookie);
        }

        [Fact]
        public void SamplesMustComeInTimeOrder()
        {
            var tracker = new CloseWaitTracker();
            tracker.Observe(At(5), new TcpConnection[0]);
            Assert.Throws<ArgumentOutOfRangeException>(() => tracker.Observe(At(4), new TcpConnection[0]));
        }

        private sealed class Tree : Dictionary<int, (int Parent, string Name)>, IProcessTable
        {
            public bool GivesParents => true;

            public ProcessFacts? Get(int pid) => TryGetValue(pid, out var p) ? new ProcessFacts(pid, p.Parent, p.Name, null, "server") : null;
        }

        [Fact]
        public void ALeakSpreadOverChildrenIsGrowingPerService()
        {
            // A master (50) listens on 8080; each sample a new child of it holds one more socket,
            // and every other sample that socket's owner is not found yet.
            var tree = new Tree { [50] = (1, "server") };
            var listener = new TcpConnection(AddressFamily.InterNetwork, IPAddress.Loopback, 8080, IPAddress.Any, 0, TcpState.Listen, 10, "Netlink")
            {
                ProcessId = 50,
                Program = "server",
                Owners = new[] { new TcpSocketOwner(50, "server", 3) },
            };
            var tracker = new CloseWaitTracker(null, new ServiceMap(tree) { Listeners = new[] { listener } });
            var growing = new List<TcpCloseWaitEvent>();
            for (int s = 0; s < 8; s++)
            {
                tree[100 + s] = (50, "server");
                var sample = Enumerable.Range(0, s + 1).Select(i => Linux((ulong)(i + 1), 30000 + i, 0, i == s && s % 2 == 1 ? (int?)null : 100 + i)).ToList();
                growing.AddRange(tracker.Observe(At(s), sample).Where(e => e.Event == "Growing"));
            }

            var g = growing.First();
            Assert.Equal(50, g.ProcessId);
            Assert.Equal("server :8080", g.Service);
            Assert.True(g.ProcessIds!.Count >= 5);
            Assert.True(g.RatePerMinute > 0);

            // Per process (no service map) nothing grows: each holds one socket.
            var perProcess = new CloseWaitTracker();
            var none = new List<TcpCloseWaitEvent>();
            for (int s = 0; s < 8; s++)
            {
                var sample = Enumerable.Range(0, s + 1).Select(i => Linux((ulong)(i + 1), 30000 + i, 0, 100 + i)).ToList();
                none.AddRange(perProcess.Observe(At(s), sample).Where(e => e.Event == "Growing"));
            }

            Assert.Empty(none);
        }

        [Fact]
        public void AGrowingLeakOfSocketsSharedAfterForkNeverConvertsToTheMainProcess()
        {
            // The main process (this test's own PID, so that a live reference to it would convert)
            // listens and forks a child per connection without closing its copy: every socket is
            // held by both (Owners), ProcessId names the lowest. Its Growing event names a service
            // of two processes, like Test-TcpCloseWait's diagnosis of the same sockets, and its Id
            // must not SIGKILL the main process from a pipeline.
            int main = Environment.ProcessId;
            const int Child = int.MaxValue - 7;
            var tree = new Tree { [main] = (1, "server"), [Child] = (main, "server") };
            var listener = new TcpConnection(AddressFamily.InterNetwork, IPAddress.Loopback, 8080, IPAddress.Any, 0, TcpState.Listen, 10, "Netlink")
            {
                ProcessId = main,
                Program = "server",
                Owners = new[] { TcpSocketOwner.Listed(main, "server", 3) },
            };
            var tracker = new CloseWaitTracker(null, new ServiceMap(tree) { Listeners = new[] { listener } });
            var growing = new List<TcpCloseWaitEvent>();
            for (int s = 0; s < 8; s++)
            {
                var sample = Enumerable.Range(0, s + 1).Select(i =>
                {
                    var c = Linux((ulong)(i + 1), 30000 + i, 0, main);
                    c.Owners = new[] { TcpSocketOwner.Listed(main, "server", 10 + i), TcpSocketOwner.Listed(Child, "server", 4) };
                    return c;
                }).ToList();
                growing.AddRange(tracker.Observe(At(s), sample).Where(e => e.Event == "Growing"));
            }

            var g = growing.First();
            Assert.Equal(main, g.ProcessId);
            Assert.Equal(new[] { main, Child }.OrderBy(p => p), g.ProcessIds!);
            Assert.Throws<InvalidOperationException>(() => (int)g.Id);
        }

        [Fact]
        public void AnUnownedLeakInAnotherNamespaceDoesNotGrowAServiceOnTheSamePort()
        {
            // -AllNetworkNamespaces: a steady process (this test's own PID, so that its Id would
            // convert) holds one CLOSE_WAIT socket on 8080 in namespace A; in namespace B, sockets on
            // 8080 whose owners the watch has not found pile up. They are B's, never A's service: a
            // Growing event for A would send Stop-Process to a process that leaks nothing.
            int main = Environment.ProcessId;
            var tree = new Tree { [main] = (1, "server") };
            var tracker = new CloseWaitTracker(null, new ServiceMap(tree));
            var growing = new List<TcpCloseWaitEvent>();
            for (int s = 0; s < 10; s++)
            {
                var a = Linux(1, 30000, 0, main);
                a.Owners = new[] { TcpSocketOwner.Listed(main, "server", 3) };
                a.NetworkNamespaceId = 4026531840;
                var sample = new List<TcpConnection> { a };
                sample.AddRange(Enumerable.Range(0, s + 1).Select(i =>
                {
                    var b = Linux((ulong)(100 + i), 31000 + i, 0, null);
                    b.NetworkNamespaceId = 4026532999;
                    return b;
                }));
                growing.AddRange(tracker.Observe(At(s), sample).Where(e => e.Event == "Growing"));
            }

            Assert.NotEmpty(growing);
            Assert.DoesNotContain(growing, e => e.ProcessId == main);
            Assert.All(growing, e => Assert.Equal(4026532999UL, e.NetworkNamespaceId));
        }

        /// <summary>Feeds counts for PID 100 (one new socket per unit), one sample a second; returns the Growing events per sample.</summary>
        private static List<List<TcpCloseWaitEvent>> Feed(CloseWaitTracker tracker, IEnumerable<int> counts, int? pid = 100, int start = 0)
        {
            var result = new List<List<TcpCloseWaitEvent>>();
            int s = start;
            foreach (int count in counts)
            {
                var sample = Enumerable.Range(1, count).Select(i => Linux((ulong)i, 30000 + i, 0, pid)).ToList();
                result.Add(tracker.Observe(At(s), sample).Where(e => e.Event == "Growing").ToList());
                s++;
            }

            return result;
        }

        [Fact]
        public void OneNewStuckSocketASecondIsGrowingAtSixtyAMinute()
        {
            var growing = Feed(new CloseWaitTracker(), Enumerable.Range(0, 12));

            // Rising over the 5 intervals from 0 s to 5 s: first reported at the 6th sample.
            Assert.All(growing.Take(5), Assert.Empty);
            var first = Assert.Single(growing[5]);
            Assert.Equal(At(5), first.Time);
            Assert.Equal(100, first.ProcessId);
            Assert.Equal("svc100", first.Program);
            Assert.Equal(5, first.Count);
            Assert.Equal(60, first.RatePerMinute);
            Assert.Equal(8080, first.LocalPort); // every stuck socket on one local port
            Assert.Null(first.Connection);
            Assert.Null(first.DescriptorsExhaustedIn); // no descriptor reader

            // Still rising: reported again every 5 samples, the rate measured from the start of the rise.
            Assert.All(growing.Skip(6).Take(4), Assert.Empty);
            var again = Assert.Single(growing[10]);
            Assert.Equal(10, again.Count);
            Assert.Equal(60, again.RatePerMinute);
            Assert.Empty(growing[11]);
        }

        [Fact]
        public void AGroupThatAppearsDuringTheWatchStartsFromZero()
        {
            var tracker = new CloseWaitTracker();
            tracker.Observe(At(0), new TcpConnection[0]);
            var growing = Feed(tracker, Enumerable.Range(1, 6), start: 1);

            // 0 at 0 s (the sample before it appeared), then 1..5 at 1..5 s: 5 rises in 5 intervals.
            Assert.Equal(new[] { 0, 0, 0, 0, 1, 0 }, growing.Select(g => g.Count));
            var e = growing[4][0];
            Assert.Equal(At(5), e.Time);
            Assert.Equal(5, e.Count);
            Assert.Equal(60, e.RatePerMinute);
        }

        [Theory]
        [InlineData(new[] { 10, 10, 10, 10, 10, 10, 10 }, false)] // steady
        [InlineData(new[] { 10, 11, 10, 11, 10, 11, 10 }, false)] // churn, no trend
        [InlineData(new[] { 10, 12, 11, 13, 15, 17, 16 }, false)] // rising, but dipped below its high at the end
        [InlineData(new[] { 10, 12, 11, 13, 15, 17, 18 }, true)]  // rising with one dip
        [InlineData(new[] { 10, 10, 11, 11, 12, 12, 12 }, false)] // a rise in only 2 of 5 intervals
        [InlineData(new[] { 10, 10, 11, 11, 12, 13, 14 }, true)]  // a rise in 4 of the last 5 intervals
        [InlineData(new[] { 20, 15, 16, 17, 18, 19, 19 }, true)]  // fell, then rose in 4 of the last 5
        public void TheKeepsRisingRule(int[] counts, bool rising)
        {
            var points = counts.Select((c, i) => (At(i), c)).ToList();
            Assert.Equal(rising, CloseWaitTracker.IsRising(points));
        }

        [Fact]
        public void ASteadyCountIsNotGrowingAndAStopEndsTheReports()
        {
            var growing = Feed(new CloseWaitTracker(), new[] { 3, 3, 3, 3, 3, 3, 3, 3, 4, 5, 6, 7, 8, 8, 8, 8, 8, 8, 8, 8, 8 });
            var reported = growing.Select((g, i) => (g.Count, i)).Where(x => x.Count > 0).Select(x => x.i).ToList();

            // 3 at 7 s, then 4, 5, 6 at 8..10 s: 3 rises in the window 5..10 s, reported at 10 s;
            // rising until 14 s (not reported again so soon), not from 15 s (rises in 2 of 5 intervals).
            Assert.Equal(new[] { 10 }, reported);
        }

        [Fact]
        public void WithoutOwnersEverythingWatchedIsOneGroup()
        {
            var growing = Feed(new CloseWaitTracker(), Enumerable.Range(0, 6), pid: null);
            var e = Assert.Single(growing[5]);
            Assert.Null(e.ProcessId);
            Assert.Null(e.Program);
            Assert.Equal(5, e.Count);
        }

        [Fact]
        public void ProjectsWhenTheProcessRunsOutOfDescriptors()
        {
            var asked = new List<int>();
            var tracker = new CloseWaitTracker(pid =>
            {
                asked.Add(pid);
                return (Open: 124, Limit: 1024);
            });
            var e = Assert.Single(Feed(tracker, Enumerable.Range(0, 6))[5]);
            Assert.Equal(124, e.OpenDescriptors);
            Assert.Equal(1024, e.DescriptorLimit);

            // 900 descriptors left at 60 a minute: 15 minutes.
            Assert.Equal(TimeSpan.FromMinutes(15), e.DescriptorsExhaustedIn);
            Assert.Equal(new[] { 100 }, asked); // asked only when reporting
        }

        [Theory]
        [InlineData(100L, 1024L, 60.0, 924.0)]
        [InlineData(1024L, 1024L, 60.0, 0.0)]
        [InlineData(2000L, 1024L, 60.0, 0.0)]
        [InlineData(100L, null, 60.0, null)]
        [InlineData(null, 1024L, 60.0, null)]
        [InlineData(100L, 1024L, 0.0, null)]
        [InlineData(100L, 1024L, null, null)]
        public void ExhaustionNeedsOpenLimitAndARisingRate(long? open, long? limit, double? rate, double? seconds)
        {
            Assert.Equal(seconds is double s ? TimeSpan.FromSeconds(s) : (TimeSpan?)null, CloseWaitTracker.ExhaustedIn(open, limit, rate));
        }
    }

    /// <summary>The watch's sampler: owners looked up only for sockets not seen before.</summary>
    public sealed class CloseWaitSamplerTests
    {
        private sealed class FakeTable : ISocketTable
        {
            public List<TcpConnection> Rows { get; set; } = new List<TcpConnection>();

            // A fresh object per read, as a real table gives.
            public IEnumerable<TcpConnection> Read(SocketQuery query, CancellationToken cancellationToken) =>
                Rows.Select(r => new TcpConnection(r.AddressFamily, IPAddress.Loopback, r.LocalPort, IPAddress.Loopback, r.RemotePort, r.State, 8, "Netlink")
                {
                    Cookie = r.Cookie,
                    Inode = r.Inode,
                }).ToList();
        }

        /// <summary>Owns every socket whose inode is in Owners; counts walks and what each walk was asked.</summary>
        private sealed class FakeOwners : IOwnerResolver
        {
            public Dictionary<ulong, int> Owners { get; } = new Dictionary<ulong, int>();

            public List<int> AskedPerWalk { get; } = new List<int>();

            /// <summary>Called once per walk: lets a test's clock advance by the walk's duration.</summary>
            public Action? Takes { get; set; }

            public int Resolve(IReadOnlyList<TcpConnection> connections, CancellationToken cancellationToken)
            {
                AskedPerWalk.Add(connections.Count);
                Takes?.Invoke();
                foreach (var c in connections)
                {
                    if (Owners.TryGetValue(c.Inode!.Value, out int pid))
                    {
                        c.ProcessId = pid;
                        c.Program = "p" + pid;
                        c.Owners = new[] { new TcpSocketOwner(pid, "p" + pid, 3) };
                    }
                }

                return 1;
            }
        }

        /// <summary>Also looks in given processes only, as the Linux resolver can; records each walk.</summary>
        private sealed class FakeOwnersInProcesses : IOwnerResolver, IOwnerResolverInProcesses
        {
            private readonly FakeOwners _all = new FakeOwners();

            public Dictionary<ulong, int> Owners => _all.Owners;

            public List<string> Walks { get; } = new List<string>();

            public int Resolve(IReadOnlyList<TcpConnection> connections, CancellationToken cancellationToken)
            {
                Walks.Add($"all:{connections.Count}");
                return _all.Resolve(connections, cancellationToken);
            }

            public int ResolveAmong(IReadOnlyList<TcpConnection> connections, IEnumerable<int> processIds, CancellationToken cancellationToken)
            {
                var among = new HashSet<int>(processIds);
                Walks.Add($"among {string.Join(",", among.OrderBy(p => p))}:{connections.Count}");
                foreach (var c in connections)
                {
                    if (Owners.TryGetValue(c.Inode!.Value, out int pid) && among.Contains(pid))
                    {
                        c.ProcessId = pid;
                        c.Program = "p" + pid;
                        c.Owners = new[] { new TcpSocketOwner(pid, "p" + pid, 3) };
                    }
                }

                return 0;
            }
        }

        /// <summary>A resolver with a targeted search (as on Linux): records full and targeted searches.</summary>
        private sealed class FakeSearchOwners : IOwnerResolver, IOwnerSearchSource, IOwnerSearch
        {
            private readonly FakeOwners _all = new FakeOwners();

            public Dictionary<ulong, int> Owners => _all.Owners;

            /// <summary>Sockets the targeted search cannot find (their process's table looks unchanged).</summary>
            public HashSet<ulong> Hidden { get; } = new HashSet<ulong>();

            public List<string> Walks { get; } = new List<string>();

            public Action? Takes { get; set; }

            public bool Primed { get; private set; }

            public IOwnerSearch StartSearch() => this;

            public int Resolve(IReadOnlyList<TcpConnection> connections, CancellationToken cancellationToken) =>
                throw new InvalidOperationException("the sampler must walk through its search");

            public int ResolveAll(IReadOnlyList<TcpConnection> connections, CancellationToken cancellationToken)
            {
                Walks.Add($"all:{connections.Count}");
                Takes?.Invoke();
                Primed = true;
                return _all.Resolve(connections, cancellationToken);
            }

            public int ResolveTargeted(IReadOnlyList<TcpConnection> connections, IEnumerable<int> likelyProcesses, CancellationToken cancellationToken)
            {
                Walks.Add($"targeted {string.Join(",", likelyProcesses.OrderBy(p => p))}:{connections.Count}");
                int found = 0;
                foreach (var c in connections)
                {
                    if (!Hidden.Contains(c.Inode!.Value) && Owners.TryGetValue(c.Inode!.Value, out int pid))
                    {
                        c.ProcessId = pid;
                        c.Owners = new[] { new TcpSocketOwner(pid, "p" + pid, 3) };
                        found++;
                    }
                }

                return found;
            }
        }

        [Fact]
        public void WithATargetedSearchNewSocketsAreFoundWithoutAWalkOfEveryProcess()
        {
            var now = TimeSpan.Zero;
            var table = new FakeTable { Rows = { Row(1), Row(2) } };
            var owners = new FakeSearchOwners { Owners = { [101] = 11, [102] = 12, [103] = 14, [104] = 11, [105] = 15 }, Takes = () => now += TimeSpan.FromSeconds(1) };
            var sampler = new CloseWaitSampler(table, owners, new ConnectionFilter(), new SocketQuery(), () => now);
            sampler.Read(default);
            Assert.Equal(new[] { "all:2" }, owners.Walks); // the first sample primes the search

            for (ulong cookie = 3; cookie <= 4; cookie++)
            {
                now += TimeSpan.FromSeconds(1);
                table.Rows.Add(Row(cookie)); // a new socket every sample, one by a process not seen before
                Assert.DoesNotContain(sampler.Read(default), c => c.ProcessId == null);
            }

            Assert.Equal(new[] { "all:2", "targeted 11,12:1", "targeted 11,12,14:1" }, owners.Walks);
            Assert.Equal(1, sampler.OwnerWalks);

            // One the search misses waits for a walk of every process: the first took 1 s, so the next at 30 s.
            owners.Hidden.Add(105);
            table.Rows.Add(Row(5));
            now = TimeSpan.FromSeconds(29.9);
            Assert.Null(sampler.Read(default).Single(c => c.Cookie == 5).ProcessId);
            now = TimeSpan.FromSeconds(30);
            Assert.Equal(15, sampler.Read(default).Single(c => c.Cookie == 5).ProcessId);
            Assert.Equal(2, sampler.OwnerWalks);
            Assert.Equal("all:1", owners.Walks[owners.Walks.Count - 1]);
        }

        /// <summary>A clock that never moves: every walk took no time, so none waits for the budget.</summary>
        private static TimeSpan NoTime() => TimeSpan.Zero;

        private static TcpConnection Row(ulong cookie, int localPort = 80) =>
            new TcpConnection(AddressFamily.InterNetwork, IPAddress.Loopback, localPort, IPAddress.Loopback, 40000 + (int)cookie, TcpState.CloseWait, 8, "Netlink")
            {
                Cookie = cookie,
                Inode = cookie + 100,
            };

        [Fact]
        public void WalksOnlyWhenNewSocketsAppearAndKeepsTheOwnersFound()
        {
            var table = new FakeTable { Rows = { Row(1), Row(2) } };
            var owners = new FakeOwners { Owners = { [101] = 11, [102] = 12, [103] = 13 } };
            var sampler = new CloseWaitSampler(table, owners, new ConnectionFilter(), new SocketQuery(), NoTime);

            Assert.Equal(new int?[] { 11, 12 }, sampler.Read(default).Select(c => c.ProcessId));
            var steady = sampler.Read(default);
            Assert.Equal(new int?[] { 11, 12 }, steady.Select(c => c.ProcessId));
            Assert.Equal("p12", steady[1].Program);
            Assert.Equal(12, Assert.Single(steady[1].Owners).ProcessId);
            Assert.Equal(new[] { 2 }, owners.AskedPerWalk);

            table.Rows.Add(Row(3));
            Assert.Equal(new int?[] { 11, 12, 13 }, sampler.Read(default).Select(c => c.ProcessId));
            Assert.Equal(new[] { 2, 1 }, owners.AskedPerWalk); // only the new socket
            Assert.Equal(2, sampler.OwnerWalks);
        }

        [Fact]
        public void LooksForNewSocketsInTheKnownOwnersFirst()
        {
            var table = new FakeTable { Rows = { Row(1), Row(2) } };
            var owners = new FakeOwnersInProcesses { Owners = { [101] = 11, [102] = 12, [103] = 11, [104] = 14 } };
            var sampler = new CloseWaitSampler(table, owners, new ConnectionFilter(), new SocketQuery(), NoTime);
            sampler.Read(default);
            Assert.Equal(new[] { "all:2" }, owners.Walks); // nothing known yet: every process

            table.Rows.Add(Row(3)); // the leaking process 11 adds one
            Assert.Equal(11, sampler.Read(default).Single(c => c.Cookie == 3).ProcessId);
            Assert.Equal(new[] { "all:2", "among 11,12:1" }, owners.Walks);

            table.Rows.Add(Row(4)); // a process not seen before
            var sample = sampler.Read(default);
            Assert.Equal(14, sample.Single(c => c.Cookie == 4).ProcessId);
            Assert.Equal(new[] { "all:2", "among 11,12:1", "among 11,12:1", "all:1" }, owners.Walks);
            Assert.Equal(2, sampler.OwnerWalks);
            Assert.Equal(2, sampler.KnownOwnerWalks);

            Assert.DoesNotContain(sampler.Read(default), c => c.ProcessId == null);
            Assert.Equal(4, owners.Walks.Count); // steady: no walk
        }

        [Fact]
        public void AWalkOfEveryProcessTakesAtMostATenthOfTheTime()
        {
            var now = TimeSpan.Zero;
            var table = new FakeTable { Rows = { Row(1) } };
            var owners = new FakeOwners { Owners = { [101] = 11, [102] = 12 }, Takes = () => now += TimeSpan.FromSeconds(1) };
            var sampler = new CloseWaitSampler(table, owners, new ConnectionFilter(), new SocketQuery(), () => now);

            Assert.Equal(11, Assert.Single(sampler.Read(default)).ProcessId); // 0 s: walk, 1 s long
            now = TimeSpan.FromSeconds(2);
            table.Rows.Add(Row(2));
            Assert.Equal(new int?[] { 11, null }, sampler.Read(default).Select(c => c.ProcessId)); // the next walk may start at 10 s
            now = TimeSpan.FromSeconds(9.9);
            Assert.Equal(new int?[] { 11, null }, sampler.Read(default).Select(c => c.ProcessId));
            Assert.Equal(1, sampler.OwnerWalks);

            now = TimeSpan.FromSeconds(10);
            Assert.Equal(new int?[] { 11, 12 }, sampler.Read(default).Select(c => c.ProcessId));
            Assert.Equal(new[] { 1, 1 }, owners.AskedPerWalk);
            Assert.Equal(0, sampler.UnownedSockets);
        }

        [Fact]
        public void AnUnownedSocketIsAskedAboutAgainOnlyWithNewOnes()
        {
            var table = new FakeTable { Rows = { Row(1) } };
            var owners = new FakeOwners();
            var sampler = new CloseWaitSampler(table, owners, new ConnectionFilter(), new SocketQuery(), NoTime);
            sampler.Read(default);
            Assert.Equal(1, sampler.UnownedSockets);
            Assert.Equal(1, sampler.InaccessibleProcesses);
            sampler.Read(default);
            sampler.Read(default);
            Assert.Equal(new[] { 1 }, owners.AskedPerWalk);

            owners.Owners[101] = 11; // accepted since (it was in the listener's queue)
            table.Rows.Add(Row(2));
            Assert.Equal(new int?[] { 11, null }, sampler.Read(default).Select(c => c.ProcessId));
            Assert.Equal(new[] { 1, 2 }, owners.AskedPerWalk);
        }

        [Fact]
        public void AppliesTheSocketAndOwnerFilters()
        {
            var table = new FakeTable { Rows = { Row(1, localPort: 80), Row(2, localPort: 81), Row(3, localPort: 80) } };
            var owners = new FakeOwners { Owners = { [101] = 11, [103] = 13 } };
            var filter = new ConnectionFilter { LocalPorts = new HashSet<int> { 80 }, ProcessIds = new HashSet<int> { 13 } };
            var sampler = new CloseWaitSampler(table, owners, filter, new SocketQuery(), NoTime);
            Assert.Equal(3UL, Assert.Single(sampler.Read(default)).Cookie);
            Assert.Equal(3UL, Assert.Single(sampler.Read(default)).Cookie);
            Assert.Equal(new[] { 2 }, owners.AskedPerWalk); // port 81 never asked about, the others once
        }

        [Fact]
        public void WithoutAResolverNoWalkAndOwnersStayAsTheTableGaveThem()
        {
            var table = new FakeTable { Rows = { Row(1) } };
            var sampler = new CloseWaitSampler(table, null, new ConnectionFilter(), new SocketQuery(), NoTime);
            Assert.Null(Assert.Single(sampler.Read(default)).ProcessId);
            Assert.Equal(0, sampler.OwnerWalks);
            Assert.Equal(0, sampler.UnownedSockets);
        }
    }
}
