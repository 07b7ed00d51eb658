using System.Management.Automation;
using CloseWait.Commands.Completers;

namespace CloseWait.Commands
{
    /// <summary>Lists TCP sockets from the operating system's own table, with their owners.</summary>
    [Cmdlet(VerbsCommon.Get, "TcpConnection")]
    [OutputType(typeof(TcpConnection))]
    public sealed class GetTcpConnectionCommand : TcpConnectionCommandBase
    {
        [Parameter(Position = 0)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(TcpStateCompleter))]
        public TcpState[]? State { get; set; }

        protected override TcpState[]? RequestedStates => State;

        protected override void EndProcessing()
        {
            foreach (var c in ListConnections())
            {
                WriteObject(c);
            }
        }
    }
}
