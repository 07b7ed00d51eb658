using CloseWait.Platform;

namespace CloseWait.Commands
{
    /// <summary>What Get- and Set-TcpTimeWaitSetting and Get-TcpPortUsage share: -NetworkNamespace and the platform's TIME_WAIT store.</summary>
    public abstract class TimeWaitCommandBase : SettingCommandBase
    {
        internal ITimeWaitStore Store { get; private set; } = null!;

        protected override void BeginProcessing()
        {
            base.BeginProcessing();
            Store = OpenStore(() => PlatformServices.TimeWaitStore);
        }

        /// <summary>Reads the setting, or writes the failure as a non-terminating error and returns null.</summary>
        internal TcpTimeWaitSetting? TryRead() => TryRead(Store.Read);
    }
}
