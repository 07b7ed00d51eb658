using System;
using System.Collections;
using System.Linq;
using System.Management.Automation;
using System.Net;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>Objects as Invoke-Command hands them back: serialized at the default depth of remoting.</summary>
    [Collection("PowerShell")]
    public sealed class RemotingTests
    {
        private const string RoundTrip = "function rt($o) { [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($o)) }; ";

        private readonly PowerShellFixture _ps;

        public RemotingTests(PowerShellFixture ps) => _ps = ps;

        [Fact]
        public void SummaryKeepsItsPerProcessRowsAsObjects()
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback, count: 2);
            var r = _ps.Run(RoundTrip + "$x = rt (Get-TcpConnectionSummary -WarningAction SilentlyContinue); $x.ByProcess").ThrowIfFailed();

            // At depth 1 each row arrives as its ToString() text, and (...).ByProcess | Sort-Object CloseWait sorts nothing.
            var mine = r.Output.Single(o => o.Properties["ProcessId"] != null && Convert.ToInt32(o.Properties["ProcessId"].Value) == Environment.ProcessId);
            Assert.Contains("Deserialized.CloseWait.TcpProcessSummary", mine.TypeNames);
            Assert.True(Convert.ToInt32(mine.Properties["CloseWait"].Value) >= 2);

            string table = _ps.Render("$x.ByProcess");
            Assert.Contains("Program", table);
            Assert.Contains("CloseWait", table);
        }

        [Fact]
        public void AConnectionCrossesWithStateAndFamilyByNameAndNoLocalProcessIdentity()
        {
            using var sockets = LoopbackSockets.CloseWait(IPAddress.Loopback, count: 1);
            var r = _ps.Run(RoundTrip + "$x = rt (Get-TcpCloseWait -ProcessId $PID); " +
                "[pscustomobject]@{ ByState = @($x | Where-Object State -eq CloseWait).Count; ByFamily = @($x | Where-Object AddressFamily -eq InterNetwork).Count; " +
                "Count = @($x).Count; State = $x[0].State; Id = $x[0].Id; Name = $x[0].Program; Own = $x[0].PSObject.Properties.Match('Id').Count; " +
                "Notes = @($x[0].PSObject.Properties | Where-Object MemberType -in 'Property', 'NoteProperty' | ForEach-Object Name) -join ',' }").ThrowIfFailed();
            var o = r.Output.Single();
            int count = Convert.ToInt32(o.Properties["Count"].Value);
            Assert.True(count >= 1);
            Assert.Equal(count, Convert.ToInt32(o.Properties["ByState"].Value));
            Assert.Equal("CloseWait", o.Properties["State"].Value?.ToString());
            // Id crosses as its text, which no conversion makes a PID (Stop-Process binds nothing from it).
            Assert.Equal($"{Environment.ProcessId}@{Environment.MachineName}", o.Properties["Id"].Value?.ToString());
            Assert.IsType<string>(o.Properties["Id"].Value is System.Management.Automation.PSObject p ? p.BaseObject : o.Properties["Id"].Value);
            Assert.Equal(System.Diagnostics.Process.GetCurrentProcess().ProcessName, o.Properties["Name"].Value?.ToString());

            // On the wire: Program, never ProcessName (Stop-Process would bind -Name from it on the caller).
            string[] notes = ((string)o.Properties["Notes"].Value).Split(',');
            Assert.Contains("Program", notes);
            Assert.DoesNotContain("ProcessName", notes);
            Assert.Contains("BootId", notes);
        }
    }
}
