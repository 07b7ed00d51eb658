using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using CloseWait.Host;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>
    /// A real PowerShell engine (System.Management.Automation) with the built module imported by
    /// its manifest, as a user's session would have it. Only Microsoft.PowerShell.Core cmdlets exist.
    /// </summary>
    public sealed class PowerShellFixture : IDisposable
    {
        public PowerShellFixture()
        {
            ManifestPath = ModuleLocator.FindManifest();
            Output = new StringWriter();
            Host = new TextHost(Output, 200);
            var iss = InitialSessionState.CreateDefault2();
            iss.ImportPSModule(new[] { ManifestPath });
            Runspace = RunspaceFactory.CreateRunspace(Host, iss);
            Runspace.Open();
        }

        public string ManifestPath { get; }

        public Runspace Runspace { get; }

        public TextHost Host { get; }

        public StringWriter Output { get; }

        /// <summary>Runs a script; returns its output and the errors it wrote (non-terminating).</summary>
        public PSResult Run(string script, IDictionary<string, object?>? variables = null)
        {
            using var ps = PowerShell.Create();
            ps.Runspace = Runspace;
            if (variables != null)
            {
                foreach (var kv in variables)
                {
                    Runspace.SessionStateProxy.SetVariable(kv.Key, kv.Value);
                }
            }

            ps.AddScript(script);
            Collection<PSObject> output;
            RuntimeException? terminating = null;
            try
            {
                output = ps.Invoke();
            }
            catch (RuntimeException e)
            {
                output = new Collection<PSObject>();
                terminating = e;
            }

            return new PSResult(output, ps.Streams.Error.ToList(), ps.Streams.Warning.Select(w => w.Message).ToList(),
                ps.Streams.Verbose.Select(v => v.Message).ToList(), terminating);
        }

        /// <summary>Runs a script through Out-Default and returns what the host printed.</summary>
        public string Render(string script, IDictionary<string, object?>? variables = null)
        {
            lock (Output)
            {
                Output.GetStringBuilder().Clear();
                var r = Run(script + " | Out-Default", variables);
                r.ThrowIfFailed();
                return Output.ToString();
            }
        }

        public void Dispose() => Runspace.Dispose();
    }

    public sealed class PSResult
    {
        public PSResult(Collection<PSObject> output, List<ErrorRecord> errors, List<string> warnings, List<string> verbose, RuntimeException? terminating)
        {
            Output = output;
            Errors = errors;
            Warnings = warnings;
            Verbose = verbose;
            Terminating = terminating;
        }

        public Collection<PSObject> Output { get; }

        public List<ErrorRecord> Errors { get; }

        public List<string> Warnings { get; }

        public List<string> Verbose { get; }

        public RuntimeException? Terminating { get; }

        /// <summary>Every error id written or thrown, terminating first.</summary>
        public IEnumerable<string> ErrorIds =>
            (Terminating?.ErrorRecord != null ? new[] { Terminating.ErrorRecord.FullyQualifiedErrorId } : Array.Empty<string>())
                .Concat(Errors.Select(e => e.FullyQualifiedErrorId));

        public PSResult ThrowIfFailed()
        {
            if (Terminating != null)
            {
                throw new Xunit.Sdk.XunitException("The pipeline failed: " + Terminating.ErrorRecord?.FullyQualifiedErrorId + ": " + Terminating.Message);
            }

            if (Errors.Count > 0)
            {
                throw new Xunit.Sdk.XunitException("The pipeline wrote errors: " + string.Join("; ", Errors.Select(e => e.FullyQualifiedErrorId + ": " + e)));
            }

            return this;
        }

        public List<T> Objects<T>() => Output.Select(o => (T)o.BaseObject).ToList();
    }

    [CollectionDefinition("PowerShell")]
    public sealed class PowerShellCollection : ICollectionFixture<PowerShellFixture>
    {
    }
}
