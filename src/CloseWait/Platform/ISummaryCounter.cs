using System.Threading;

namespace CloseWait.Platform
{
    /// <summary>
    /// A back end's ability to count the table by state and owner without a connection object per
    /// socket (Linux: from the netlink bytes). Declared by <see cref="PlatformServices.CreateSummaryCounter"/>;
    /// where there is none, the summary goes through the listing pipeline.
    /// </summary>
    internal interface ISummaryCounter
    {
        int InaccessibleProcesses { get; }

        int UnownedSockets { get; }

        /// <summary>Counts into <paramref name="builder"/>; false when this back end cannot (the caller lists instead).</summary>
        bool TryCount(SocketQuery query, SummaryBuilder builder, CancellationToken cancellationToken);
    }
}
