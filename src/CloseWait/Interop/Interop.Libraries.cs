internal static partial class Interop
{
    internal static class Libraries
    {
        // glibc by its soname: "libc" alone would resolve to libc.so, a linker script dlopen cannot load.
        internal const string Libc = "libc.so.6";
        internal const string LibSystem = "/usr/lib/libSystem.dylib";
        internal const string IpHlpApi = "iphlpapi.dll";
        internal const string Kernel32 = "kernel32.dll";
        internal const string Advapi32 = "advapi32.dll";
    }
}
