using System;
using System.IO;

namespace CloseWait.Host
{
    public static class ModuleLocator
    {
        /// <summary>The built module's manifest: $CLOSEWAIT_MODULE, else out/CloseWait/CloseWait.psd1 above this program.</summary>
        public static string FindManifest()
        {
            string? env = Environment.GetEnvironmentVariable("CLOSEWAIT_MODULE");
            if (!string.IsNullOrEmpty(env))
            {
                return Path.GetFullPath(env);
            }

            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "out", "CloseWait", "CloseWait.psd1");
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }

            throw new FileNotFoundException("The built module out/CloseWait/CloseWait.psd1 was not found. Run `dotnet build` at the repository root, or set CLOSEWAIT_MODULE.");
        }
    }
}
