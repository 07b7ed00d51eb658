using System.Management.Automation;

namespace CloseWait.Commands
{
    /// <summary>Reads the TIME_WAIT and ephemeral-port settings, each with its meaning, default and source.</summary>
    [Cmdlet(VerbsCommon.Get, "TcpTimeWaitSetting")]
    [OutputType(typeof(TcpTimeWaitSetting))]
    public sealed class GetTcpTimeWaitSettingCommand : TimeWaitCommandBase
    {
        protected override void ProcessRecord()
        {
            var setting = TryRead();
            if (setting != null)
            {
                WriteObject(setting);
            }
        }
    }
}
