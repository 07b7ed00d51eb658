using System.Management.Automation;

namespace CloseWait.Commands
{
    /// <summary>Reads the system TCP keepalive: time, interval, probes, detection time, where each came from.</summary>
    [Cmdlet(VerbsCommon.Get, "TcpKeepAliveSetting")]
    [OutputType(typeof(TcpKeepAliveSetting))]
    public sealed class GetTcpKeepAliveSettingCommand : KeepAliveCommandBase
    {
        protected override void EndProcessing()
        {
            var setting = TryRead();
            if (setting == null)
            {
                return;
            }

            WarnAboutReboot(setting, "Run Set-TcpKeepAliveSetting -Persist to keep the running values.");
            WriteObject(setting);
        }
    }
}
