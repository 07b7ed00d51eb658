using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Globalization;
using System.IO;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Security;
using System.Text;
using System.Text.RegularExpressions;

namespace CloseWait.Host
{
    /// <summary>
    /// A minimal non-interactive PowerShell host that writes everything to a TextWriter, so that
    /// Out-Default renders objects through the module's format data as pwsh would.
    /// </summary>
    public sealed class TextHost : PSHost
    {
        private readonly Guid _id = Guid.NewGuid();
        private readonly TextHostUI _ui;

        public TextHost(TextWriter output, int width = 160)
        {
            _ui = new TextHostUI(output, width);
        }

        public override CultureInfo CurrentCulture => CultureInfo.InvariantCulture;

        public override CultureInfo CurrentUICulture => CultureInfo.InvariantCulture;

        public override Guid InstanceId => _id;

        public override string Name => "CloseWait.Host";

        public override PSHostUserInterface UI => _ui;

        public override Version Version => new Version(1, 0);

        public int ExitCode { get; private set; }

        public override void EnterNestedPrompt() => throw new NotSupportedException();

        public override void ExitNestedPrompt() => throw new NotSupportedException();

        public override void NotifyBeginApplication()
        {
        }

        public override void NotifyEndApplication()
        {
        }

        public override void SetShouldExit(int exitCode) => ExitCode = exitCode;

        private sealed class TextHostUI : PSHostUserInterface
        {
            private readonly TextWriter _out;
            private readonly RawUI _raw;

            public TextHostUI(TextWriter output, int width)
            {
                _out = output;
                _raw = new RawUI(width);
            }

            public override PSHostRawUserInterface RawUI => _raw;

            public override Dictionary<string, PSObject> Prompt(string caption, string message, Collection<FieldDescription> descriptions) =>
                throw new PSInvalidOperationException("This host is non-interactive: pass -Confirm:$false or -Force instead of answering prompts.");

            public override int PromptForChoice(string caption, string message, Collection<ChoiceDescription> choices, int defaultChoice) =>
                throw new PSInvalidOperationException("This host is non-interactive: pass -Confirm:$false or -Force instead of answering prompts.");

            public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName) =>
                throw new NotSupportedException();

            public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName, PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options) =>
                throw new NotSupportedException();

            public override string ReadLine() => string.Empty;

            public override SecureString ReadLineAsSecureString() => new SecureString();

            // This host draws no colours: plain text, as in a log file.
            private static readonly Regex Ansi = new Regex("\u001b\\[[0-9;?]*[A-Za-z]", RegexOptions.Compiled);

            private static string Plain(string value) => value.IndexOf('\u001b') < 0 ? value : Ansi.Replace(value, string.Empty);

            public override void Write(string value) => _out.Write(Plain(value));

            public override void Write(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value) => _out.Write(Plain(value));

            public override void WriteLine(string value) => _out.WriteLine(Plain(value));

            public override void WriteErrorLine(string value) => _out.WriteLine(Plain(value));

            public override void WriteDebugLine(string message) => _out.WriteLine("DEBUG: " + message);

            public override void WriteProgress(long sourceId, ProgressRecord record)
            {
            }

            public override void WriteVerboseLine(string message) => _out.WriteLine("VERBOSE: " + message);

            public override void WriteWarningLine(string message) => _out.WriteLine("WARNING: " + message);
        }

        private sealed class RawUI : PSHostRawUserInterface
        {
            private Size _size;

            public RawUI(int width)
            {
                _size = new Size(width, 50);
            }

            public override ConsoleColor BackgroundColor { get; set; }

            public override Size BufferSize { get => new Size(_size.Width, 9999); set => _size = value; }

            public override Coordinates CursorPosition { get; set; }

            public override int CursorSize { get; set; }

            public override ConsoleColor ForegroundColor { get; set; }

            public override bool KeyAvailable => false;

            public override Size MaxPhysicalWindowSize => _size;

            public override Size MaxWindowSize => _size;

            public override Coordinates WindowPosition { get; set; }

            public override Size WindowSize { get => _size; set => _size = value; }

            public override string WindowTitle { get; set; } = string.Empty;

            public override void FlushInputBuffer()
            {
            }

            public override BufferCell[,] GetBufferContents(Rectangle rectangle) => throw new NotSupportedException();

            public override KeyInfo ReadKey(ReadKeyOptions options) => throw new NotSupportedException();

            public override void ScrollBufferContents(Rectangle source, Coordinates destination, Rectangle clip, BufferCell fill) => throw new NotSupportedException();

            public override void SetBufferContents(Coordinates origin, BufferCell[,] contents) => throw new NotSupportedException();

            public override void SetBufferContents(Rectangle rectangle, BufferCell fill) => throw new NotSupportedException();
        }
    }
}
