using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Text.Json;
using System.Threading;
using CloseWait.Host;
using CloseWait.Platform;
using CloseWait.Platform.Linux;

namespace CloseWait.Bench
{
    /// <summary>
    /// `serve`: hosts the PowerShell engine with the built module imported, warms it up, prints
    /// "ready", then answers one line per request ("run owners", "run noowner", "run render"
    /// through Out-Default as a console shows it, "run port", "run summary", "run summarynoowner",
    /// "quit") with a JSON line: wall time of the invocation inside the warm engine,
    /// objects returned, bytes allocated, managed heap before and after, and the process's peak RSS
    /// during the call. "watch VARIANT SAMPLES INTERVALMS" runs Watch-TcpCloseWait -Count SAMPLES
    /// and answers with the process's CPU time per sample (VARIANT: owners, noowner, owners-churn,
    /// noowner-churn; churn: this process adds one CLOSE_WAIT socket per interval meanwhile).
    /// `profile`: times the Linux back end's phases without the engine.
    /// </summary>
    public static class Program
    {
        private const int WarmUpRuns = 3;

        public static int Main(string[] args)
        {
            string mode = args.Length > 0 ? args[0] : "serve";
            switch (mode)
            {
                case "serve":
                    return Serve(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 30000);
                case "profile":
                    return Profile(
                        args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 5,
                        args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 30000);
                default:
                    Console.Error.WriteLine("usage: CloseWait.Bench serve [port] | profile [rounds] [port]");
                    return 2;
            }
        }

        /// <summary>Serves requests; <paramref name="port"/> is the local port the "port" case asks for.</summary>
        private static int Serve(int port)
        {
            string manifest = ModuleLocator.FindManifest();
            var iss = InitialSessionState.CreateDefault2();
            iss.ImportPSModule(new[] { manifest });
            // Out-Default renders through the module's format data into this writer, as pwsh would to a console.
            var screen = new StringWriter();
            using var runspace = RunspaceFactory.CreateRunspace(new TextHost(screen, 160), iss);
            runspace.Open();

            var cases = new Dictionary<string, Action<PowerShell>>
            {
                ["owners"] = ps => ps.AddCommand("Get-TcpCloseWait"),
                ["noowner"] = ps => ps.AddCommand("Get-TcpCloseWait").AddParameter("NoOwner"),
                ["render"] = ps => ps.AddCommand("Get-TcpCloseWait").AddCommand("Out-Default"),
                ["port"] = ps => ps.AddCommand("Get-TcpConnection").AddParameter("LocalPort", port).AddParameter("NoOwner"),
            };
            var commands = Invoke(runspace, ps => ps.AddCommand("Get-Command").AddParameter("Module", "CloseWait")).Select(c => c.Properties["Name"]?.Value as string).ToList();
            if (commands.Contains("Get-TcpConnectionSummary"))
            {
                cases["summary"] = ps => ps.AddCommand("Get-TcpConnectionSummary");
                cases["summarynoowner"] = ps => ps.AddCommand("Get-TcpConnectionSummary").AddParameter("NoOwner");
            }

            if (commands.Contains("Test-TcpCloseWait"))
            {
                // The diagnosis: the same listing plus the listeners, descriptor counts and the analysis.
                cases["diagnose"] = ps => ps.AddCommand("Test-TcpCloseWait");
            }

            if (commands.Contains("Get-TcpPortUsage"))
            {
                cases["portusage"] = ps => ps.AddCommand("Get-TcpPortUsage");
            }

            if (RuntimeInformation.IsOSPlatform(OSPlatform.Linux))
            {
                // Every network namespace on the host, one owner walk: the cost of looking into the containers too.
                cases["allns"] = ps => ps.AddCommand("Get-TcpCloseWait").AddParameter("AllNetworkNamespaces");
                if (commands.Contains("Test-TcpCloseWait"))
                {
                    cases["allnsdiagnose"] = ps => ps.AddCommand("Test-TcpCloseWait").AddParameter("AllNetworkNamespaces");
                }

                // Issue 21's metrics, measured once the cmdlet exists (skipped before).
                if (commands.Contains("Export-TcpCloseWaitMetric"))
                {
                    string metrics = Path.Combine(Path.GetTempPath(), "closewait-bench-" + Environment.ProcessId + ".prom");
                    cases["allnsexport"] = ps => ps.AddCommand("Export-TcpCloseWaitMetric").AddParameter("AllNetworkNamespaces").AddParameter("Path", metrics);
                }
            }

            foreach (var c in cases.Values)
            {
                for (int i = 0; i < WarmUpRuns; i++)
                {
                    Invoke(runspace, c);
                }
            }

            // A Debug build of the module runs unoptimized: say which one was measured.
            var module = (System.Reflection.Assembly)Invoke(runspace, ps => ps.AddScript("[CloseWait.TcpConnection].Assembly"))[0].BaseObject;
            var debuggable = (DebuggableAttribute?)Attribute.GetCustomAttribute(module, typeof(DebuggableAttribute));
            WriteJson(new Dictionary<string, object?>
            {
                ["ready"] = true,
                ["manifest"] = manifest,
                ["moduleOptimized"] = debuggable == null || !debuggable.IsJITOptimizerDisabled,
                ["cases"] = cases.Keys.ToArray(),
                ["warmUpRuns"] = WarmUpRuns,
                ["engine"] = typeof(PowerShell).Assembly.GetName().Version?.ToString(),
            });

            string? line;
            while ((line = Console.ReadLine()) != null)
            {
                string[] words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (words.Length == 0)
                {
                    continue;
                }

                if (words[0] == "quit")
                {
                    break;
                }

                if (words[0] == "watch" && words.Length == 4)
                {
                    WriteJson(MeasureWatch(runspace, words[1], int.Parse(words[2], System.Globalization.CultureInfo.InvariantCulture),
                        int.Parse(words[3], System.Globalization.CultureInfo.InvariantCulture)));
                    continue;
                }

                if (words[0] != "run" || words.Length != 2 || !cases.TryGetValue(words[1], out var build))
                {
                    WriteJson(new Dictionary<string, object?> { ["error"] = "unknown request: " + line });
                    continue;
                }

                screen.GetStringBuilder().Clear();
                var result = Measure(runspace, words[1], build);
                if (words[1] == "render")
                {
                    result["count"] = screen.ToString().Count(ch => ch == '\n');
                }

                screen.GetStringBuilder().Clear();
                WriteJson(result);
            }

            return 0;
        }

        private static Dictionary<string, object?> Measure(Runspace runspace, string name, Action<PowerShell> build)
        {
            long heapBefore = GC.GetTotalMemory(forceFullCollection: true);
            long baseRss = ReadStatus("VmRSS:");
            ResetPeakRss();
            long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
            int gen0 = GC.CollectionCount(0);
            double cpuBefore = ProcessCpuMs();
            var watch = Stopwatch.StartNew();
            Collection<PSObject> output = Invoke(runspace, build);
            watch.Stop();
            double cpuMs = ProcessCpuMs() - cpuBefore;
            long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
            long peakRss = ReadStatus("VmHWM:");
            long heapAfter = GC.GetTotalMemory(forceFullCollection: true);
            int owned = output.Count(o => o.Properties["ProcessId"]?.Value != null);
            int count = output.Count;
            GC.KeepAlive(output);
            return new Dictionary<string, object?>
            {
                ["case"] = name,
                ["ms"] = watch.Elapsed.TotalMilliseconds,
                // User + system time of the engine process (every thread) during the call: less noisy than wall time on a shared box.
                ["cpuMs"] = cpuMs,
                ["count"] = count,
                ["owned"] = owned,
                ["allocatedBytes"] = allocated,
                ["gen0Collections"] = GC.CollectionCount(0) - gen0,
                ["heapBeforeBytes"] = heapBefore,
                ["heapAfterBytes"] = heapAfter,
                ["baseRssBytes"] = baseRss,
                ["peakRssBytes"] = peakRss,
            };
        }

        /// <summary>
        /// One watch of <paramref name="samples"/> samples: process CPU time (user + system, every
        /// thread, the kernel's dump included) over the watch, per sample. With churn, a thread adds
        /// one CLOSE_WAIT socket per interval (held here), so every sample sees a new socket.
        /// </summary>
        private static Dictionary<string, object?> MeasureWatch(Runspace runspace, string variant, int samples, int intervalMs)
        {
            bool owners = variant.StartsWith("owners", StringComparison.Ordinal);
            bool churn = variant.EndsWith("-churn", StringComparison.Ordinal);
            using var stop = new ManualResetEventSlim();
            using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            listener.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
            listener.Listen(1024);
            int churnPort = ((System.Net.IPEndPoint)listener.LocalEndPoint!).Port;
            var held = new List<System.Net.Sockets.Socket>();
            var churner = new Thread(() =>
            {
                while (churn && !stop.Wait(intervalMs))
                {
                    using var client = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                    client.Connect(listener.LocalEndPoint!);
                    held.Add(listener.Accept());
                    client.Close();
                }
            }) { IsBackground = true };
            churner.Start();

            var self = Process.GetCurrentProcess();
            self.Refresh();
            var cpuBefore = self.TotalProcessorTime;
            var watch = Stopwatch.StartNew();
            // The first sample's events arrive when it is done (its owner walk included): the CPU
            // time then splits the first sample from the steady ones after it.
            double firstSampleCpuMs = -1;
            var events = new PSDataCollection<PSObject>();
            events.DataAdded += (_, _) =>
            {
                if (firstSampleCpuMs < 0)
                {
                    firstSampleCpuMs = ProcessCpuMs() - cpuBefore.TotalMilliseconds;
                }
            };
            using (var ps = PowerShell.Create())
            {
                ps.Runspace = runspace;
                ps.AddCommand("Watch-TcpCloseWait").AddParameter("Count", samples).AddParameter("Interval", TimeSpan.FromMilliseconds(intervalMs));
                if (!owners)
                {
                    ps.AddParameter("NoOwner");
                }

                ps.Invoke(null, events);
            }

            watch.Stop();
            self.Refresh();
            double cpuMs = (self.TotalProcessorTime - cpuBefore).TotalMilliseconds;
            stop.Set();
            churner.Join();
            foreach (var s in held)
            {
                s.Dispose();
            }

            return new Dictionary<string, object?>
            {
                ["case"] = "watch " + variant,
                ["samples"] = samples,
                ["intervalMs"] = intervalMs,
                ["wallMs"] = watch.Elapsed.TotalMilliseconds,
                ["cpuMs"] = cpuMs,
                ["cpuMsPerSample"] = cpuMs / samples,
                ["firstSampleCpuMs"] = firstSampleCpuMs,
                ["cpuMsPerLaterSample"] = firstSampleCpuMs >= 0 && samples > 1 ? (cpuMs - firstSampleCpuMs) / (samples - 1) : (double?)null,
                ["cores"] = cpuMs / watch.Elapsed.TotalMilliseconds,
                ["churnSockets"] = held.Count,
                ["entered"] = events.Count(e => e.Properties["Event"]?.Value as string == "Entered"),
                ["growing"] = events.Count(e => e.Properties["Event"]?.Value as string == "Growing"),
                ["enteredWithOwner"] = events.Count(e => e.Properties["Event"]?.Value as string == "Entered" && e.Properties["ProcessId"]?.Value != null),
                // The churn sockets (on the churn listener's port): with their owner in the sample that first saw them?
                ["churnEntered"] = events.Count(e => e.Properties["Event"]?.Value as string == "Entered" && e.Properties["LocalPort"]?.Value is int p && p == churnPort),
                ["churnEnteredWithOwner"] = events.Count(e => e.Properties["Event"]?.Value as string == "Entered" && e.Properties["LocalPort"]?.Value is int p && p == churnPort
                    && e.Properties["ProcessId"]?.Value != null),
            };
        }

        /// <summary>User + system time of every thread of this process (getrusage), cheap enough to read from an event.</summary>
        private static double ProcessCpuMs()
        {
            using var self = Process.GetCurrentProcess();
            return self.TotalProcessorTime.TotalMilliseconds;
        }

        private static Collection<PSObject> Invoke(Runspace runspace, Action<PowerShell> build)
        {
            using var ps = PowerShell.Create();
            ps.Runspace = runspace;
            build(ps);
            var output = ps.Invoke();
            if (ps.HadErrors)
            {
                throw new InvalidOperationException("the benchmarked pipeline wrote errors: " + string.Join("; ", ps.Streams.Error.Select(e => e.ToString())));
            }

            return output;
        }

        /// <summary>Phases of a listing, timed on the back end directly: where does the time go?</summary>
        private static int Profile(int rounds, int port)
        {
            var table = new LinuxSocketTable();
            var tablePerFamily = new LinuxSocketTable { BothFamiliesAtOnce = false };
            var resolver = new LinuxOwnerResolver();
            var closeWait = new SocketQuery { States = new[] { TcpState.CloseWait } };
            var closeWaitBare = new SocketQuery { States = new[] { TcpState.CloseWait }, IncludeDetails = false };
            var everything = new SocketQuery { IncludeDetails = false };
            var onePort = new SocketQuery { IncludeDetails = false, LocalPorts = new[] { port } };
            var phases = new Dictionary<string, Func<int>>
            {
                ["dumpCloseWait"] = () => table.Read(closeWait, CancellationToken.None).Count(),
                ["dumpCloseWaitWithoutTcpInfo"] = () => table.Read(closeWaitBare, CancellationToken.None).Count(),
                ["dumpCloseWaitOneDumpPerFamily"] = () => tablePerFamily.Read(closeWait, CancellationToken.None).Count(),
                ["dumpAllStates"] = () => table.Read(everything, CancellationToken.None).Count(),
                ["dumpAllStatesKernelFilteredByPort"] = () => table.Read(onePort, CancellationToken.None).Count(),
                ["dumpAllStatesFilteredByPortHere"] = () => table.Read(everything, CancellationToken.None).Count(c => c.LocalPort == port),
                ["listPids"] = () => LinuxOwnerResolver.ListPids().Length,
            };

            foreach (var phase in phases)
            {
                phase.Value();
                int result = 0;
                var times = Repeat(rounds, () => result = phase.Value());
                WritePhase(phase.Key, times, result);
            }

            // The owner walk alone, on the CLOSE_WAIT sockets read once.
            var sockets = table.Read(closeWait, CancellationToken.None).ToList();
            resolver.Resolve(sockets, CancellationToken.None);
            var walk = Repeat(rounds, () => resolver.Resolve(sockets, CancellationToken.None));
            WritePhase("ownerWalk", walk, sockets.Count(c => c.ProcessId != null));

            // The watch's targeted search after one walk of every process: a socket read by that walk
            // (confirmed with one readlink), and a socket opened since (only changed tables are read).
            var search = (LinuxOwnerSearch)resolver.StartSearch();
            var prime = Repeat(1, () => search.ResolveAll(sockets.Take(1).ToList(), CancellationToken.None));
            WritePhase("ownerWalkRecordingEverySocket", prime, search.IndexedSockets);
            var again = table.Read(closeWait, CancellationToken.None).Take(1).ToList();
            var indexHit = Repeat(rounds, () =>
            {
                again[0].ProcessId = null;
                search.ResolveTargeted(again, Array.Empty<int>(), CancellationToken.None);
            });
            WritePhase("ownerSearchSeenBefore", indexHit, again.Count(c => c.ProcessId != null));
            using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            listener.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
            listener.Listen(64);
            int newPort = ((System.Net.IPEndPoint)listener.LocalEndPoint!).Port;
            var held = new List<System.Net.Sockets.Socket>();
            int foundNew = 0;
            int read = 0;
            var fresh = Repeat(rounds, () =>
            {
                using (var client = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp))
                {
                    client.Connect(listener.LocalEndPoint!);
                    held.Add(listener.Accept());
                }

                var mine = table.Read(new SocketQuery { LocalPorts = new[] { newPort } }, CancellationToken.None).ToList();
                foundNew = search.ResolveTargeted(mine, Array.Empty<int>(), CancellationToken.None);
                read = search.ProcessesRead;
            });
            WritePhase("ownerSearchOpenedSince", fresh, foundNew);
            WriteJson(new Dictionary<string, object?> { ["phase"] = "ownerSearchOpenedSinceProcessesRead", ["medianMs"] = 0.0, ["minMs"] = 0.0, ["maxMs"] = 0.0, ["cpuMedianMs"] = 0.0, ["result"] = read });
            foreach (var h in held)
            {
                h.Dispose();
            }

            return 0;
        }

        /// <summary>Wall and CPU milliseconds (all threads) of each run, each list sorted.</summary>
        private static (List<double> Wall, List<double> Cpu) Repeat(int rounds, Action action)
        {
            var wall = new List<double>();
            var cpu = new List<double>();
            var self = Process.GetCurrentProcess();
            for (int i = 0; i < rounds; i++)
            {
                self.Refresh();
                var cpuBefore = self.TotalProcessorTime;
                var watch = Stopwatch.StartNew();
                action();
                wall.Add(watch.Elapsed.TotalMilliseconds);
                self.Refresh();
                cpu.Add((self.TotalProcessorTime - cpuBefore).TotalMilliseconds);
            }

            wall.Sort();
            cpu.Sort();
            return (wall, cpu);
        }

        private static void WritePhase(string name, (List<double> Wall, List<double> Cpu) times, int result) =>
            WriteJson(new Dictionary<string, object?>
            {
                ["phase"] = name,
                ["medianMs"] = times.Wall[times.Wall.Count / 2],
                ["minMs"] = times.Wall[0],
                ["maxMs"] = times.Wall[times.Wall.Count - 1],
                ["cpuMedianMs"] = times.Cpu[times.Cpu.Count / 2],
                ["result"] = result,
            });

        /// <summary>Writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS (Linux 4.0+).</summary>
        private static void ResetPeakRss()
        {
            try
            {
                File.WriteAllText("/proc/self/clear_refs", "5");
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                // Without the reset, VmHWM is the process's lifetime peak: an upper bound still.
            }
        }

        private static long ReadStatus(string field)
        {
            foreach (string l in File.ReadLines("/proc/self/status"))
            {
                if (l.StartsWith(field, StringComparison.Ordinal))
                {
                    string kb = l.Substring(field.Length).Trim().Split(' ')[0];
                    return long.Parse(kb, System.Globalization.CultureInfo.InvariantCulture) * 1024;
                }
            }

            return -1;
        }

        private static void WriteJson(Dictionary<string, object?> value)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(value));
            Console.Out.Flush();
        }
    }
}
