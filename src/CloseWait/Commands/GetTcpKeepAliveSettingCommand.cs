using System.Management.Automation;

namespace CloseWait.Commands
{
    /// <summary>Reads the system TCP keepalive: time, interval, probes, detection time, where each came from.</summary>
    [Cmdlet(VerbsCommon.Get, "TcpKeepAliveSetting")]
    [OutputType(typeof(TcpKeepAliveSetting))]
    public sealed class GetTcpKeepAliveSettingCommand : KeepAliveCommandBase
    {
        /// <summary>Linux: read the keepalive of every network namespace in use on the host (each container's).</summary>
        [Parameter]
        public SwitchParameter AllNetworkNamespaces { get; set; }

        protected override void EndProcessing()
        {
            if (AllNetworkNamespaces)
            {
                WriteObject(ReadAllNamespaces(), enumerateCollection: true);
                return;
            }

            var setting = TryRead();
            if (setting == null)
            {
                return;
            }

            WarnAboutReboot(setting, "To keep the running values, run Set-TcpKeepAliveSetting with them and -Persist; to apply the configured ones now, run sysctl --system.");
            WriteObject(setting);
        }
    }
}
