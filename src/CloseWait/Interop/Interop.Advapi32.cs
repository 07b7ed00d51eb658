using System;
using System.Runtime.InteropServices;

// Windows registry declarations (advapi32.dll). P/Invoke rather than Microsoft.Win32.Registry: the
// package is not part of netstandard2.0, and the one DLL must load in Windows PowerShell 5.1 too.
// The Reg* functions return their error code; they do not set the thread's last error.
internal static partial class Interop
{
    internal static unsafe partial class Advapi32
    {
        internal static readonly IntPtr HKEY_CURRENT_USER = new IntPtr(unchecked((int)0x80000001));
        internal static readonly IntPtr HKEY_LOCAL_MACHINE = new IntPtr(unchecked((int)0x80000002));

        internal const int KEY_QUERY_VALUE = 0x0001;
        internal const int KEY_SET_VALUE = 0x0002;
        internal const int KEY_WOW64_64KEY = 0x0100;

        internal const int REG_SZ = 1;
        internal const int REG_DWORD = 4;

        internal const int ERROR_SUCCESS = 0;
        internal const int ERROR_FILE_NOT_FOUND = 2;
        internal const int ERROR_ACCESS_DENIED = 5;
        internal const int ERROR_MORE_DATA = 234;

        [DllImport(Libraries.Advapi32, EntryPoint = "RegOpenKeyExW", CharSet = CharSet.Unicode, ExactSpelling = true)]
        internal static extern int RegOpenKeyEx(IntPtr hKey, string lpSubKey, int ulOptions, int samDesired, out IntPtr phkResult);

        [DllImport(Libraries.Advapi32, EntryPoint = "RegQueryValueExW", CharSet = CharSet.Unicode, ExactSpelling = true)]
        internal static extern int RegQueryValueEx(IntPtr hKey, string lpValueName, IntPtr lpReserved, out int lpType, byte* lpData, ref int lpcbData);

        [DllImport(Libraries.Advapi32, EntryPoint = "RegSetValueExW", CharSet = CharSet.Unicode, ExactSpelling = true)]
        internal static extern int RegSetValueEx(IntPtr hKey, string lpValueName, int reserved, int dwType, byte* lpData, int cbData);

        [DllImport(Libraries.Advapi32, EntryPoint = "RegDeleteValueW", CharSet = CharSet.Unicode, ExactSpelling = true)]
        internal static extern int RegDeleteValue(IntPtr hKey, string lpValueName);

        [DllImport(Libraries.Advapi32, ExactSpelling = true)]
        internal static extern int RegCloseKey(IntPtr hKey);
    }
}
