using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Text.RegularExpressions;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>The module as a user imports it: manifest, exports, help, conventions.</summary>
    [Collection("PowerShell")]
    public sealed class ModuleTests
    {
        private readonly PowerShellFixture _ps;

        public ModuleTests(PowerShellFixture ps) => _ps = ps;

        private List<CmdletInfo> Cmdlets() =>
            _ps.Run("Get-Command -Module CloseWait").ThrowIfFailed().Output.Select(o => (CmdletInfo)o.BaseObject).ToList();

        [Fact]
        public void ManifestDeclaresBothEditionsAndExportsWhatExists()
        {
            var m = _ps.Run("Get-Module CloseWait").ThrowIfFailed().Output.Single();
            var info = (PSModuleInfo)m.BaseObject;
            Assert.Contains("Desktop", info.CompatiblePSEditions);
            Assert.Contains("Core", info.CompatiblePSEditions);
            Assert.Equal("5.1", info.PowerShellVersion.ToString());
            var manifestText = File.ReadAllText(_ps.ManifestPath);
            var declared = Regex.Matches(manifestText, @"'((?:Get|Set|Test|Close|Watch|Export)-Tcp\w+)'").Select(x => x.Groups[1].Value).ToHashSet();
            var names = Cmdlets().Select(c => c.Name).ToList();
            Assert.Contains("Get-TcpConnection", names);
            Assert.Contains("Get-TcpCloseWait", names);
            Assert.Contains("Get-TcpConnectionSummary", names);
            Assert.All(names, n => Assert.Contains(n, declared));

            // The assembly version is stamped from the manifest, the one place the version lives.
            Assert.Equal(info.Version.ToString(3), typeof(TcpConnection).Assembly.GetName().Version!.ToString(3));
        }

        [Fact]
        public void EveryCmdletUsesAnApprovedVerbDeclaresOutputAndHasHelpWithExamples()
        {
            // Get-Verb is not in a Core-only runspace; the approved verbs are the engine's Verbs* constants.
            var approved = new[] { typeof(VerbsCommon), typeof(VerbsLifecycle), typeof(VerbsDiagnostic), typeof(VerbsCommunications), typeof(VerbsData), typeof(VerbsSecurity), typeof(VerbsOther) }
                .SelectMany(t => t.GetFields()).Select(f => (string)f.GetValue(null)!).ToHashSet();
            foreach (var cmdlet in Cmdlets())
            {
                Assert.Contains(cmdlet.Verb, approved);
                Assert.NotEmpty(cmdlet.OutputType);
                var help = _ps.Run($"Get-Help {cmdlet.Name} -Full").ThrowIfFailed().Output.Single();
                string synopsis = help.Properties["Synopsis"].Value?.ToString() ?? string.Empty;
                Assert.False(string.IsNullOrWhiteSpace(synopsis) || synopsis.StartsWith(cmdlet.Name), $"{cmdlet.Name} has no synopsis");
                var examples = _ps.Run($"@((Get-Help {cmdlet.Name} -Examples).examples.example).Count").ThrowIfFailed().Output.Single();
                Assert.True((int)examples.BaseObject >= 2, $"{cmdlet.Name} has fewer than two examples");

                // Every parameter the cmdlet declares is described in its help.
                foreach (var p in cmdlet.Parameters.Keys.Where(k => !Cmdlet.CommonParameters.Contains(k) && !Cmdlet.OptionalCommonParameters.Contains(k)))
                {
                    var described = _ps.Run($"(Get-Help {cmdlet.Name} -Parameter {p}).description").Output;
                    Assert.True(described.Count > 0 && described.Any(d => !string.IsNullOrWhiteSpace(d?.ToString())), $"{cmdlet.Name} -{p} has no help");
                }
            }
        }

        [Fact]
        public void HelpExamplesStandApartWhenRendered()
        {
            foreach (var cmdlet in Cmdlets())
            {
                // Get-Help prints titles and remarks as they are: without the dashes and the empty
                // closing paragraph, one example's remarks run straight into the next title.
                string text = _ps.Render($"Get-Help {cmdlet.Name} -Examples");
                var lines = text.Replace("\r", string.Empty).Split('\n').Select(l => l.Trim()).ToList();
                var titles = lines.Select((l, i) => (l, i)).Where(x => x.l.Contains("Example ")).ToList();
                Assert.True(titles.Count >= 2, $"{cmdlet.Name}: no example titles in\n{text}");
                foreach (var (title, i) in titles)
                {
                    Assert.Matches("^-{5,} Example \\d+: .+ -{5,}$", title);
                    Assert.Equal(string.Empty, lines[i - 1]);
                }
            }
        }

        [Fact]
        public void CmdletsThatChangeStateSupportShouldProcess()
        {
            // Get, Test and Watch only read.
            foreach (var cmdlet in Cmdlets().Where(c => c.Verb != "Get" && c.Verb != "Test" && c.Verb != "Watch"))
            {
                Assert.True(cmdlet.Parameters.ContainsKey("WhatIf"), $"{cmdlet.Name} lacks -WhatIf");
                Assert.True(cmdlet.Parameters.ContainsKey("Confirm"), $"{cmdlet.Name} lacks -Confirm");
            }
        }
    }
}
