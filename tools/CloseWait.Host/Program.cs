using System;
using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace CloseWait.Host
{
    /// <summary>
    /// `dotnet run --project tools/CloseWait.Host -- Get-TcpCloseWait`: runs a pipeline against
    /// the built module in a real PowerShell engine and prints it as pwsh would.
    /// Exit code 1 when the pipeline wrote errors.
    /// </summary>
    public static class Program
    {
        public static int Main(string[] args)
        {
            string script = args.Length == 0 ? "Get-TcpCloseWait" : string.Join(" ", args);
            var host = new TextHost(Console.Out, Math.Max(80, SafeWidth()));
            var iss = InitialSessionState.CreateDefault2();
            iss.ImportPSModule(new[] { ModuleLocator.FindManifest() });
            using var runspace = RunspaceFactory.CreateRunspace(host, iss);
            runspace.Open();
            using var ps = PowerShell.Create();
            ps.Runspace = runspace;
            ps.AddScript(script).AddCommand("Out-Default");
            Console.CancelKeyPress += (_, e) =>
            {
                e.Cancel = true;
                ps.BeginStop(null, null);
            };
            try
            {
                ps.Invoke();
            }
            catch (RuntimeException e)
            {
                Console.Error.WriteLine(e.ErrorRecord?.ToString() ?? e.Message);
                return 1;
            }

            foreach (var error in ps.Streams.Error)
            {
                Console.Error.WriteLine(error.ToString());
            }

            return ps.HadErrors ? 1 : host.ExitCode;
        }

        private static int SafeWidth()
        {
            try
            {
                return Console.IsOutputRedirected ? 160 : Console.WindowWidth;
            }
            catch (System.IO.IOException)
            {
                return 160;
            }
        }
    }
}
