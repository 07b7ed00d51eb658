namespace CloseWait
{
    /// <summary>Whether keepalive keeps an idle connection open through a device with an idle timeout.</summary>
    public enum TcpKeepAliveVerdict
    {
        /// <summary>The first probe and one retry both go out before the idle timeout.</summary>
        Pass,

        /// <summary>The first probe goes out in time, but a lost probe is retried only after the flow is dropped.</summary>
        Marginal,

        /// <summary>The device drops idle flows before the first probe goes out.</summary>
        Fail,
    }
}
