using System;
using System.Globalization;

namespace CloseWait
{
    /// <summary>
    /// Short text for the module's table views (CloseWait.Format.ps1xml), so that a table fits an
    /// 80-column console: endpoints that shorten the address but never the port, and compact
    /// durations. Public so that the format files can call it; it formats, it decides nothing.
    /// </summary>
    public static class DisplayText
    {
        /// <summary>What stands for the left-out middle of a shortened address (PowerShell's own truncation mark).</summary>
        public const string Ellipsis = "\u2026";

        /// <summary>
        /// "address:port", IPv6 as "[address]:port", at most <paramref name="width"/> characters: a
        /// longer address loses its middle (whole groups where possible, "2001:db8:…:5678"), the
        /// port always stays. Empty when there is no address.
        /// </summary>
        public static string EndPoint(string? address, int? port, int width)
        {
            if (string.IsNullOrEmpty(address))
            {
                return string.Empty;
            }

            bool v6 = address!.IndexOf(':') >= 0;
            string portText = port.HasValue ? port.Value.ToString(CultureInfo.InvariantCulture) : "*";
            string open = v6 ? "[" : string.Empty;
            string close = (v6 ? "]:" : ":") + portText;
            int room = width - open.Length - close.Length;
            return open + Shorten(address, room) + close;
        }

        /// <summary>
        /// The address in at most <paramref name="room"/> characters: whole leading and trailing
        /// groups around an ellipsis while they fit, else its last characters (the most specific part).
        /// </summary>
        internal static string Shorten(string address, int room)
        {
            if (address.Length <= room)
            {
                return address;
            }

            if (room <= Ellipsis.Length)
            {
                return Ellipsis;
            }

            char separator = address.IndexOf(':') >= 0 ? ':' : '.';
            string[] groups = address.Split(separator);
            string head = string.Empty;
            string tail = string.Empty;
            int first = 0;
            int last = groups.Length - 1;
            bool tailFirst = true;
            // Alternate: the last group (interface id, zone), then the first (the prefix), and so
            // on; when the next group of one side does not fit, the other side may still take one.
            while (first <= last)
            {
                string withTail = head + Ellipsis + separator + groups[last] + tail;
                string withHead = head + groups[first] + separator + Ellipsis + tail;
                bool tailFits = withTail.Length <= room;
                bool headFits = withHead.Length <= room && tail.Length > 0;
                if (tailFits && (tailFirst || !headFits))
                {
                    tail = separator + groups[last] + tail;
                    last--;
                }
                else if (headFits)
                {
                    head = head + groups[first] + separator;
                    first++;
                }
                else
                {
                    break;
                }

                tailFirst = !tailFirst;
            }

            if (tail.Length == 0)
            {
                // Not even one whole group fits (an IPv4-mapped address's dotted quad): keep the end,
                // without a separator right after the ellipsis.
                return Ellipsis + address.Substring(address.Length - (room - Ellipsis.Length)).TrimStart('.', ':');
            }

            return head + Ellipsis + tail;
        }

        /// <summary>
        /// A duration in at most 6 characters, exact to the unit shown: 250ms, 45s, 12m05s, 3h07m,
        /// 2d04h, 365d. Empty for $null, so a value the platform cannot give stays blank.
        /// </summary>
        public static string Duration(TimeSpan? value)
        {
            if (!value.HasValue)
            {
                return string.Empty;
            }

            TimeSpan t = value.Value;
            string sign = string.Empty;
            if (t < TimeSpan.Zero)
            {
                // A timer that is already overdue.
                sign = "-";
                t = t.Duration();
            }

            string text;
            if (t.TotalSeconds < 1)
            {
                text = ((long)t.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) + "ms";
            }
            else if (t.TotalMinutes < 1)
            {
                text = t.Seconds.ToString(CultureInfo.InvariantCulture) + "s";
            }
            else if (t.TotalHours < 1)
            {
                text = string.Format(CultureInfo.InvariantCulture, "{0}m{1:00}s", t.Minutes, t.Seconds);
            }
            else if (t.TotalDays < 1)
            {
                text = string.Format(CultureInfo.InvariantCulture, "{0}h{1:00}m", t.Hours, t.Minutes);
            }
            else if (t.TotalDays < 100)
            {
                text = string.Format(CultureInfo.InvariantCulture, "{0}d{1:00}h", t.Days, t.Hours);
            }
            else
            {
                text = t.Days.ToString(CultureInfo.InvariantCulture) + "d";
            }

            return sign + text;
        }
    }
}
