using System;

namespace CloseWait.Platform.Windows
{
    /// <summary>
    /// Which machine and boot listed a connection. Windows has no boot UUID: the machine GUID Windows
    /// setup wrote (HKLM\SOFTWARE\Microsoft\Cryptography\MachineGuid) with the boot time (now minus
    /// GetTickCount64, which counts sleep too), compared with a tolerance (ConnectionOrigin.SameBoot).
    /// </summary>
    internal static class WindowsHostIdentity
    {
        private const string CryptographyKey = @"SOFTWARE\Microsoft\Cryptography";

        internal static string? ReadBootId()
        {
            string? guid = ReadMachineGuid();
            if (guid == null)
            {
                return null;
            }

            var boot = DateTime.UtcNow - TimeSpan.FromMilliseconds(Interop.Kernel32.GetTickCount64());
            return ConnectionOrigin.WindowsBootId(guid, boot);
        }

        private static unsafe string? ReadMachineGuid()
        {
            if (Interop.Advapi32.RegOpenKeyEx(Interop.Advapi32.HKEY_LOCAL_MACHINE, CryptographyKey, 0,
                    Interop.Advapi32.KEY_QUERY_VALUE | Interop.Advapi32.KEY_WOW64_64KEY, out IntPtr key) != Interop.Advapi32.ERROR_SUCCESS)
            {
                return null;
            }

            try
            {
                // A GUID in braces-free text form is 36 characters; the buffer leaves room for the terminator.
                char* buffer = stackalloc char[64];
                int size = 64 * sizeof(char);
                int rc = Interop.Advapi32.RegQueryValueEx(key, "MachineGuid", IntPtr.Zero, out int type, (byte*)buffer, ref size);
                if (rc != Interop.Advapi32.ERROR_SUCCESS || type != Interop.Advapi32.REG_SZ)
                {
                    return null;
                }

                string text = new string(buffer, 0, size / sizeof(char)).TrimEnd('\0').Trim();
                return text.Length == 0 ? null : text;
            }
            finally
            {
                Interop.Advapi32.RegCloseKey(key);
            }
        }
    }
}
