using System;
using System.Management.Automation;

namespace CloseWait
{
    /// <summary>
    /// A failure a user can act on, carrying the stable error id and category the cmdlet puts in
    /// its ErrorRecord. Back ends throw it; cmdlets turn it into WriteError or ThrowTerminatingError.
    /// </summary>
    public sealed class CloseWaitException : Exception
    {
        public CloseWaitException(string errorId, ErrorCategory category, string message, object? target = null, Exception? inner = null)
            : base(message, inner)
        {
            ErrorId = errorId;
            Category = category;
            Target = target;
        }

        public string ErrorId { get; }

        public ErrorCategory Category { get; }

        public object? Target { get; }

        /// <summary>The errno or Win32 error behind the failure, when there is one.</summary>
        public int? NativeError { get; set; }

        internal ErrorRecord ToErrorRecord() => new ErrorRecord(this, ErrorId, Category, Target);
    }
}
