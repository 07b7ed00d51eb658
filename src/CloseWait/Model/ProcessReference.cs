using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;

namespace CloseWait
{
    /// <summary>
    /// The Id of every output that names a process: what Stop-Process (and Get-Process) bind by
    /// property name. It converts to the PID only while it is live and still names the listed
    /// process; its text ("1234@host", what Export-Csv, remoting and Export-Clixml carry) is no
    /// number, so a round-tripped record binds nothing and Stop-Process stops nothing.
    /// </summary>
    /// <remarks>
    /// Stop-Process binds pipeline input without type conversion first: a record whose Id needs a
    /// conversion loses to any property that binds -Name as is (its alias ProcessName), which stops
    /// every process of that name. So no output has a ProcessName or Name property (the owner's
    /// name is Program), and Id is never blank: a blank Id converts to 0, and on Linux .NET's
    /// Process.Kill(0) is kill(0, SIGKILL), which stops the caller's whole process group.
    /// </remarks>
    public sealed class ProcessReference : IComparable
    {
        private readonly DateTime? _listedUtc;

        private ProcessReference(int? processId, string computerName, DateTime? listedUtc)
        {
            ProcessId = processId;
            ComputerName = computerName;
            _listedUtc = listedUtc;
        }

        /// <summary>The PID when listed; null when no process owned the socket.</summary>
        public int? ProcessId { get; }

        /// <summary>The host that listed it.</summary>
        public string ComputerName { get; }

        /// <summary>A process seen by this session's own listing now: converts to its PID while that process lives.</summary>
        internal static ProcessReference Listed(int processId) => ListedAt(processId, DateTime.UtcNow);

        internal static ProcessReference ListedAt(int processId, DateTime listedUtc) =>
            new ProcessReference(processId, LocalComputerName, listedUtc);

        /// <summary>A PID this session did not see itself (a record rebuilt from text, no owner): never converts.</summary>
        internal static ProcessReference NotListed(int? processId, string? computerName) =>
            new ProcessReference(processId, string.IsNullOrEmpty(computerName) ? LocalComputerName : computerName!, null);

        /// <summary>The reference of the owner <paramref name="processId"/> among <paramref name="owners"/>, else one that never converts.</summary>
        internal static ProcessReference Of(int? processId, IEnumerable<TcpSocketOwner>? owners, string? computerName)
        {
            if (processId is int pid && owners != null)
            {
                foreach (var o in owners)
                {
                    if (o.ProcessId == pid)
                    {
                        return o.Id;
                    }
                }
            }

            return NotListed(processId, computerName);
        }

        private static string LocalComputerName => Environment.MachineName;

        /// <summary>
        /// The PID, for Stop-Process -Id: only when this session listed the process and it still runs
        /// (started no later than it was listed, so not a new process that reused the PID).
        /// </summary>
        public static implicit operator int(ProcessReference reference)
        {
            if (reference == null)
            {
                throw new ArgumentNullException(nameof(reference));
            }

            return reference.Verify();
        }

        private int Verify()
        {
            if (!(ProcessId is int pid))
            {
                throw new InvalidOperationException($"No process owned this socket when it was listed on {ComputerName}: there is no process to stop.");
            }

            if (!(_listedUtc is DateTime listed))
            {
                throw new InvalidOperationException($"Process {pid} was listed on {ComputerName} by another session, or the record was rebuilt from text: its PID may name another process now. List the sockets again here (Get-TcpConnection) and pipe that.");
            }

            DateTime started;
            try
            {
                using var p = Process.GetProcessById(pid);
                started = p.StartTime.ToUniversalTime();
            }
            catch (Exception e) when (e is ArgumentException || e is InvalidOperationException)
            {
                throw new InvalidOperationException($"Process {pid} has exited since it was listed.", e);
            }
            catch (Exception e) when (e is System.ComponentModel.Win32Exception || e is NotSupportedException)
            {
                throw new InvalidOperationException($"Process {pid}'s start time cannot be read, so it cannot be told from a new process that reused the PID: {e.Message}", e);
            }

            if (started > listed)
            {
                throw new InvalidOperationException($"Process {pid} has exited since it was listed at {listed.ToLocalTime():HH:mm:ss}; PID {pid} now names a process started at {started.ToLocalTime():HH:mm:ss}.");
            }

            return pid;
        }

        /// <summary>Orders by PID, so that Sort-Object Id sorts as numbers.</summary>
        public int CompareTo(object? obj) =>
            obj is ProcessReference other ? Nullable.Compare(ProcessId, other.ProcessId) : 1;

        public override bool Equals(object? obj) =>
            obj is ProcessReference other && ProcessId == other.ProcessId && ComputerName == other.ComputerName && _listedUtc == other._listedUtc;

        public override int GetHashCode() => (ProcessId ?? -1) ^ ComputerName.GetHashCode();

        /// <summary>"1234@host" ("none@host" without an owner): never a number, whatever PowerShell's parser tries.</summary>
        public override string ToString() =>
            (ProcessId is int pid ? pid.ToString(CultureInfo.InvariantCulture) : "none") + "@" + ComputerName;
    }
}
