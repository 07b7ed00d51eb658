using System;
using System.Globalization;

namespace CloseWait.WindowsSmoke
{
    /// <summary>
    /// Usage:
    ///   CloseWait.WindowsSmoke --hold [--seconds N]                 (Linux: hold CLOSE_WAIT sockets, print their ports)
    ///   CloseWait.WindowsSmoke.exe --v4 LPORT:RPORT --v6 LPORT:RPORT (Windows/Wine: run the checks)
    /// </summary>
    internal static class Program
    {
        private static int Main(string[] args)
        {
            try
            {
                var options = Options.Parse(args);
                return options.Hold ? Holder.Run(options.Seconds) : new Smoke(options).Run();
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine(e.Message);
                Console.Error.WriteLine("usage: CloseWait.WindowsSmoke --hold [--seconds N] | --v4 LPORT:RPORT --v6 LPORT:RPORT");
                return 2;
            }
        }
    }

    internal sealed class Options
    {
        internal bool Hold { get; private set; }

        internal int Seconds { get; private set; } = 300;

        internal (int Local, int Remote)? V4 { get; private set; }

        internal (int Local, int Remote)? V6 { get; private set; }

        internal static Options Parse(string[] args)
        {
            var o = new Options();
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
                switch (args[i])
                {
                    case "--hold": o.Hold = true; break;
                    case "--seconds": o.Seconds = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--v4": o.V4 = Pair(Next()); break;
                    case "--v6": o.V6 = Pair(Next()); break;
                    default: throw new ArgumentException($"Unknown argument {args[i]}.");
                }
            }

            if (!o.Hold && (o.V4 == null || o.V6 == null))
            {
                throw new ArgumentException("--v4 and --v6 are required (the holder prints them).");
            }

            return o;
        }

        private static (int, int) Pair(string text)
        {
            string[] p = text.Split(':');
            if (p.Length != 2)
            {
                throw new ArgumentException($"Expected LPORT:RPORT, got {text}.");
            }

            return (int.Parse(p[0], CultureInfo.InvariantCulture), int.Parse(p[1], CultureInfo.InvariantCulture));
        }
    }
}
