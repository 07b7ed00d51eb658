using System;
using System.Globalization;
using System.Management.Automation;

namespace CloseWait
{
    /// <summary>
    /// The one reading of a number given to a whole-number parameter or property: an integer type,
    /// a finite double or float, or invariant text with an optional sign (never hex, exponent or a
    /// culture's separators). Whether it is whole and in range is the caller's to say.
    /// </summary>
    internal static class WholeNumbers
    {
        internal static bool TryRead(object? value, out decimal number)
        {
            object? raw = value is PSObject p ? p.BaseObject : value;
            switch (raw)
            {
                case string s:
                    return decimal.TryParse(s.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out number);
                case byte _:
                case sbyte _:
                case short _:
                case ushort _:
                case int _:
                case uint _:
                case long _:
                case ulong _:
                case decimal _:
                    number = Convert.ToDecimal(raw, CultureInfo.InvariantCulture);
                    return true;
                case double d when !double.IsNaN(d) && !double.IsInfinity(d) && Math.Abs(d) < 1e20:
                    number = (decimal)d;
                    return true;
                case float f when !float.IsNaN(f) && !float.IsInfinity(f) && Math.Abs(f) < 1e20f:
                    number = (decimal)f;
                    return true;
                default:
                    number = 0;
                    return false;
            }
        }
    }
}
