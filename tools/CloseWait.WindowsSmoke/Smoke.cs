using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading;
using CloseWait.Platform;
using CloseWait.Platform.Windows;

namespace CloseWait.WindowsSmoke
{
    /// <summary>
    /// The checks, run on Windows code for real: the table read through the same ConnectionLister
    /// and PlatformServices back ends the cmdlets use, against CLOSE_WAIT sockets a Linux process
    /// holds (under Wine, GetExtendedTcpTable reads the host's socket table).
    /// </summary>
    internal sealed class Smoke
    {
        private readonly Options _options;
        private int _passed;
        private int _failed;

        internal Smoke(Options options) => _options = options;

        internal int Run()
        {
            Console.WriteLine($"INFO OS: {RuntimeInformation.OSDescription}; process {Environment.ProcessId}; .NET {Environment.Version}");
            Check("platform-back-ends", () =>
            {
                Require(RuntimeInformation.IsOSPlatform(OSPlatform.Windows), "RuntimeInformation does not say Windows");
                Require(PlatformServices.SocketTable is WindowsSocketTable, $"socket table is {PlatformServices.SocketTable.GetType().Name}");
                Require(PlatformServices.OwnerResolver is WindowsOwnerResolver, $"owner resolver is {PlatformServices.OwnerResolver.GetType().Name}");
                return "WindowsSocketTable + WindowsOwnerResolver chosen at run time";
            });

            CheckCloseWait("table-ipv4-closewait", "127.0.0.1", _options.V4!.Value);
            CheckCloseWait("table-ipv6-closewait", "::1", _options.V6!.Value);

            Check("table-listener-state-and-remote-port", () =>
            {
                int port = _options.V4!.Value.Local;
                var all = List(new ConnectionFilter { LocalPorts = new HashSet<int> { port } }, states: null, owners: false, out _);
                var listen = all.Where(c => c.State == TcpState.Listen).ToList();
                Require(listen.Count == 1, $"expected one listener on port {port}, found {listen.Count} among {Describe(all)}");
                Require(listen[0].RemotePort == 0, $"listener remote port {listen[0].RemotePort}");
                Require(all.Any(c => c.State == TcpState.CloseWait), "the unfiltered read lost the CLOSE_WAIT socket");
                return $"{Describe(all)}";
            });

            Check("table-state-filter", () =>
            {
                var listenOnly = List(new ConnectionFilter(), new[] { TcpState.Listen }, owners: false, out _);
                Require(listenOnly.Count > 0, "no listeners at all");
                Require(listenOnly.All(c => c.State == TcpState.Listen), "a non-listener passed the state filter");
                return $"{listenOnly.Count} listener(s), all Listen";
            });

            Check("minimum-idle-time-has-no-data", () =>
            {
                var filter = new ConnectionFilter { States = new[] { TcpState.CloseWait }, MinimumIdleTime = TimeSpan.FromSeconds(1), LocalPorts = new HashSet<int> { _options.V4!.Value.Local } };
                var got = List(filter, new[] { TcpState.CloseWait }, owners: false, out var lister);
                Require(got.Count == 0, $"{got.Count} socket(s) passed -MinimumIdleTime without an idle time");
                Require(lister.UnknownIdleTime == 1, $"UnknownIdleTime {lister.UnknownIdleTime}, expected 1 (the cmdlet warns on it)");
                return "left out and counted, so the cmdlet warns";
            });

            Check("owner-names-toolhelp", () =>
            {
                var names = WindowsOwnerResolver.SnapshotProcessNames();
                int self = Environment.ProcessId;
                string expected = Process.GetCurrentProcess().ProcessName;
                Require(names.TryGetValue(self, out string? name), $"own PID {self} missing from a snapshot of {names.Count} process(es)");
                Require(string.Equals(name, expected, StringComparison.OrdinalIgnoreCase), $"own name '{name}', Process says '{expected}'");
                var mine = new TcpConnection { ProcessId = self };
                int denied = new WindowsOwnerResolver().Resolve(new[] { mine }, CancellationToken.None);
                Require(denied == 0 && mine.Program == name && mine.Owners.Length == 1 && mine.Owners[0].ProcessId == self, $"Resolve gave '{mine.Program}', {mine.Owners.Length} owner(s), {denied} denied");
                return $"{names.Count} process(es); PID {self} = {name}";
            });

            Check("cmdlet-get-tcpclosewait-in-powershell", () =>
            {
                var watch = Stopwatch.StartNew();
                var iss = InitialSessionState.CreateDefault2();
                iss.ImportPSModule(new[] { typeof(TcpConnection).Assembly.Location });
                using var ps = PowerShell.Create(iss);
                ps.AddCommand("Get-TcpCloseWait").AddParameter("LocalPort", new[] { _options.V4!.Value.Local, _options.V6!.Value.Local });
                var found = ps.Invoke().Select(o => (TcpConnection)o.BaseObject).OrderBy(c => c.AddressFamily).ToList();
                Require(ps.Streams.Error.Count == 0, $"errors: {string.Join("; ", ps.Streams.Error)}");
                Require(found.Count == 2, $"expected the two CLOSE_WAIT sockets, got {Describe(found)}");
                Require(found[0].RemotePort == _options.V4!.Value.Remote && found[1].RemotePort == _options.V6!.Value.Remote, $"wrong sockets: {Describe(found)}");

                ps.Commands.Clear();
                ps.AddCommand("Get-TcpCloseWait").AddParameter("LocalPort", _options.V4!.Value.Local).AddParameter("MinimumIdleTime", TimeSpan.FromSeconds(1));
                var idle = ps.Invoke();
                string warnings = string.Join("; ", ps.Streams.Warning.Select(w => w.Message));
                Require(idle.Count == 0 && warnings.Contains("no idle time"), $"-MinimumIdleTime gave {idle.Count} object(s), warnings '{warnings}'");
                return $"{Describe(found)}; -MinimumIdleTime warns: {warnings} ({watch.ElapsedMilliseconds} ms with engine start)";
            });

            Check("boot-identity", () =>
            {
                // The machine GUID from the registry and the boot time from GetTickCount64: read twice, one boot.
                string? first = WindowsHostIdentity.ReadBootId();
                string? again = WindowsHostIdentity.ReadBootId();
                Require(first != null && first.StartsWith(ConnectionOrigin.WindowsPrefix, StringComparison.Ordinal), $"boot identity '{first}'");
                Require(again != null && ConnectionOrigin.SameBoot(first!, again), $"two readings differ: {first} and {again}");
                var listed = List(new ConnectionFilter { LocalPorts = new HashSet<int> { _options.V4!.Value.Local } }, new[] { TcpState.CloseWait }, owners: false, out _);
                Require(listed.Count == 1 && listed[0].BootId != null && ConnectionOrigin.SameBoot(listed[0].BootId!, first!), $"the listed connection says boot '{listed.FirstOrDefault()?.BootId}'");
                Require(listed[0].ComputerName == Environment.MachineName && listed[0].NetworkNamespaceId == null, $"ComputerName '{listed[0].ComputerName}', NetworkNamespaceId {Show(listed[0].NetworkNamespaceId)}");
                return first!;
            });

            Check("cmdlet-test-tcpclosewait-in-powershell", () =>
            {
                var iss = InitialSessionState.CreateDefault2();
                iss.ImportPSModule(new[] { typeof(TcpConnection).Assembly.Location });
                using var ps = PowerShell.Create(iss);
                ps.AddCommand("Test-TcpCloseWait").AddParameter("LocalPort", new[] { _options.V4!.Value.Local, _options.V6!.Value.Local });
                var all = ps.Invoke().Select(o => (TcpCloseWaitDiagnosis)o.BaseObject).ToList();
                Require(ps.Streams.Error.Count == 0, $"errors: {string.Join("; ", ps.Streams.Error)}");
                Require(all.Count == 1 && all[0].Count == 2, $"expected one diagnosis of the two sockets, got {all.Count}: {string.Join("; ", all)}");

                // The table has no queues or timers: two sockets of unknown age are no alarm, and no cause is guessed.
                var d = all[0];
                Require(d.Healthy && d.Cause.Count == 0 && d.StuckCount == null && d.UnreadBytes == null, $"unexpected diagnosis: {d}; {d.Finding}");
                Require(d.Finding.Contains("no idle time"), $"finding: {d.Finding}");
                return $"{d}: {d.Finding}";
            });

            if (OperatingSystem.IsWindows())
            {
                CheckKeepAliveRegistry();
            }
            else
            {
                Check("keepalive-registry", () => throw new SmokeFailure("not on Windows"));
            }

            // Last: on real Windows this closes the IPv4 socket; Wine's SetTcpEntry is a stub that
            // returns success and closes nothing, so only the call path is exercised here.
            Check("close-ipv4-settcpentry-call", () =>
            {
                var filter = new ConnectionFilter { States = new[] { TcpState.CloseWait }, LocalPorts = new HashSet<int> { _options.V4!.Value.Local } };
                var target = List(filter, new[] { TcpState.CloseWait }, owners: true, out _).Single();
                using var closer = PlatformServices.CreateSocketCloser();
                Require(closer is WindowsSocketCloser, $"closer is {closer.GetType().Name}");
                var outcome = closer.Close(target, TcpCloseMethod.Abort, CancellationToken.None);
                Require(outcome.Status == TcpCloseStatus.Closed, $"{outcome.Status}: {outcome.Detail}");
                bool stillThere = List(filter, new[] { TcpState.CloseWait }, owners: false, out _).Count == 1;
                return $"{target} -> {outcome.Status}; afterwards the socket is {(stillThere ? "still there (Wine's SetTcpEntry is a stub)" : "gone")}";
            });

            Console.WriteLine($"{_passed} passed, {_failed} failed");
            return _failed == 0 ? 0 : 1;
        }

        /// <summary>
        /// The keepalive registry store and cmdlets against Tcpip\Parameters of the private Wine
        /// prefix: read the defaults, write, read back through the store and through the registry
        /// API independently, refuse a probe count, and put the prefix back as it was.
        /// </summary>
        [System.Runtime.Versioning.SupportedOSPlatform("windows")]
        private void CheckKeepAliveRegistry()
        {
            const string subKey = @"SYSTEM\CurrentControlSet\Services\Tcpip\Parameters";
            using var key = Microsoft.Win32.Registry.LocalMachine.CreateSubKey(subKey, writable: true);
            object? originalTime = key.GetValue("KeepAliveTime");
            object? originalInterval = key.GetValue("KeepAliveInterval");
            try
            {
                Check("keepalive-registry-read", () =>
                {
                    key.DeleteValue("KeepAliveTime", throwOnMissingValue: false);
                    key.DeleteValue("KeepAliveInterval", throwOnMissingValue: false);
                    var store = new WindowsKeepAliveStore();
                    var s0 = store.Read(null);
                    Require(s0.Time == TimeSpan.FromHours(2) && s0.Interval == TimeSpan.FromSeconds(1) && s0.Probes == 10, $"absent values read as {s0.Time}/{s0.Interval}/{s0.Probes}, expected the defaults 02:00:00/00:00:01/10");
                    return $"absent values are the defaults: {s0.Time}, {s0.Interval}, {s0.Probes} probes, detection {s0.DetectionTime}";
                });

                Check("keepalive-registry-write-roundtrip", () =>
                {
                    var store = new WindowsKeepAliveStore();
                    store.Write(new KeepAliveChange(time: TimeSpan.FromSeconds(300), interval: TimeSpan.FromSeconds(30)), null);
                    var raw = (Convert.ToInt64(key.GetValue("KeepAliveTime")), Convert.ToInt64(key.GetValue("KeepAliveInterval")), key.GetValueKind("KeepAliveTime"));
                    Require(raw == (300000L, 30000L, Microsoft.Win32.RegistryValueKind.DWord), $"the registry holds {raw}, expected DWORDs 300000 and 30000 (milliseconds)");
                    var back = store.Read(null);
                    Require(back.Time == TimeSpan.FromSeconds(300) && back.Interval == TimeSpan.FromSeconds(30) && back.DetectionTime == TimeSpan.FromSeconds(600), $"read back {back.Time}/{back.Interval}, detection {back.DetectionTime}");
                    return $"DWORD ms {raw.Item1}/{raw.Item2}; read back {back.Time}, {back.Interval}, detection {back.DetectionTime}";
                });

                Check("keepalive-cmdlets-in-powershell", () =>
                {
                    var iss = InitialSessionState.CreateDefault2();
                    iss.ImportPSModule(new[] { typeof(TcpConnection).Assembly.Location });
                    using var ps = PowerShell.Create(iss);
                    ps.AddScript("Set-TcpKeepAliveSetting -Time 120 -Interval 00:00:05 -Confirm:$false -PassThru");
                    var set = ps.Invoke().Select(o => o.BaseObject).OfType<TcpKeepAliveSetting>().SingleOrDefault();
                    Require(ps.Streams.Error.Count == 0, $"errors: {string.Join("; ", ps.Streams.Error)}");
                    Require(set != null && set.Time == TimeSpan.FromSeconds(120) && set.Interval == TimeSpan.FromSeconds(5) && set.DetectionTime == TimeSpan.FromSeconds(170), $"-PassThru gave {set?.Time}/{set?.Interval}/{set?.DetectionTime}");
                    Require(Convert.ToInt64(key.GetValue("KeepAliveTime")) == 120000, "the registry was not written");
                    string restartWarning = string.Join("; ", ps.Streams.Warning.Select(w => w.Message));
                    Require(restartWarning.Length > 0, "no warning that running sockets keep their values until restart");

                    ps.Commands.Clear();
                    ps.Streams.ClearStreams();
                    ps.AddScript("Set-TcpKeepAliveSetting -Probes 5 -Confirm:$false");
                    ps.Invoke();
                    string ids = string.Join(", ", ps.Streams.Error.Select(e => e.FullyQualifiedErrorId));
                    Require(ids.StartsWith("KeepAliveProbesNotSupported", StringComparison.Ordinal), $"-Probes 5 gave '{ids}'");
                    Require(Convert.ToInt64(key.GetValue("KeepAliveTime")) == 120000, "a refused change wrote something");
                    return $"Set -PassThru detection {set!.DetectionTime}; warning: {restartWarning}; -Probes 5 -> {ids}";
                });
            }
            finally
            {
                Restore(key, "KeepAliveTime", originalTime);
                Restore(key, "KeepAliveInterval", originalInterval);
            }
        }

        [System.Runtime.Versioning.SupportedOSPlatform("windows")]
        private static void Restore(Microsoft.Win32.RegistryKey key, string name, object? value)
        {
            if (value == null)
            {
                key.DeleteValue(name, throwOnMissingValue: false);
            }
            else
            {
                key.SetValue(name, value, Microsoft.Win32.RegistryValueKind.DWord);
            }
        }

        private void CheckCloseWait(string name, string loopback, (int Local, int Remote) ports)
        {
            Check(name, () =>
            {
                var filter = new ConnectionFilter { States = new[] { TcpState.CloseWait }, LocalPorts = new HashSet<int> { ports.Local } };
                var found = List(filter, new[] { TcpState.CloseWait }, owners: true, out _);
                Require(found.Count == 1, $"expected one CLOSE_WAIT socket on local port {ports.Local}, found {found.Count}");
                var c = found[0];
                Require(c.State == TcpState.CloseWait, $"state {c.State}");
                Require(c.LocalAddress == loopback && c.RemoteAddress == loopback, $"addresses {c.LocalAddress} -> {c.RemoteAddress}");
                Require(c.LocalPort == ports.Local && c.RemotePort == ports.Remote, $"ports {c.LocalPort} -> {c.RemotePort}, expected {ports.Local} -> {ports.Remote}");
                Require(c.Source == WindowsTcpRows.Source, $"source {c.Source}");
                Require(c.ReceiveQueue == null && c.SendQueue == null && c.IdleTime == null && c.Inode == null, "a value Windows cannot give is not null");
                var family = c.AddressFamily;
                var table = (WindowsSocketTable)PlatformServices.SocketTable;
                table.UsedClass.TryGetValue(family, out var tableClass);
                return $"{c} via {tableClass}; ProcessId {Show(c.ProcessId)}, Program {c.Program ?? "null"}, CreationTime {Show(c.CreationTime)}";
            });
        }

        private static List<TcpConnection> List(ConnectionFilter filter, TcpState[]? states, bool owners, out ConnectionLister lister)
        {
            lister = new ConnectionLister(PlatformServices.SocketTable, owners ? PlatformServices.OwnerResolver : null);
            var query = new SocketQuery { States = states, AddressFamily = filter.AddressFamily };
            var watch = Stopwatch.StartNew();
            var list = lister.List(filter, query, owners, CancellationToken.None).ToList();
            Console.WriteLine($"INFO read {list.Count} matching socket(s) in {watch.ElapsedMilliseconds} ms");
            return list;
        }

        private static string Describe(IEnumerable<TcpConnection> connections) =>
            string.Join(", ", connections.Select(c => c.ToString()));

        private static string Show<T>(T? value)
            where T : struct => value?.ToString() ?? "null";

        private void Check(string name, Func<string> body)
        {
            try
            {
                string detail = body();
                _passed++;
                Console.WriteLine($"PASS {name}: {detail}");
            }
            catch (Exception e)
            {
                _failed++;
                Console.WriteLine($"FAIL {name}: {(e is SmokeFailure ? e.Message : e.ToString())}");
            }

            Console.Out.Flush();
        }

        private static void Require(bool condition, string message)
        {
            if (!condition)
            {
                throw new SmokeFailure(message);
            }
        }

        private sealed class SmokeFailure : Exception
        {
            internal SmokeFailure(string message)
                : base(message)
            {
            }
        }
    }
}
