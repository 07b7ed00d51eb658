using System;
using System.Collections.Generic;
using System.IO;
using System.Net;

namespace CloseWait.Tests
{
    /// <summary>
    /// Builds GetExtendedTcpTable buffers field by field as tcpmib.h lays them out, independently
    /// of the decoder's offsets: dwNumEntries, padding to the row alignment, then the rows.
    /// </summary>
    internal sealed class WindowsTableBuilder
    {
        private readonly bool _v6;
        private readonly bool _module;
        private readonly List<byte[]> _rows = new List<byte[]>();

        internal WindowsTableBuilder(bool v6, bool module)
        {
            _v6 = v6;
            _module = module;
        }

        internal WindowsTableBuilder Row(int state, string local, int localPort, string remote, int remotePort, uint pid, long createTimestamp = 0, uint localScope = 0, uint remoteScope = 0)
        {
            var ms = new MemoryStream();
            var w = new BinaryWriter(ms);
            if (_v6)
            {
                w.Write(IPAddress.Parse(local).GetAddressBytes());   // ucLocalAddr[16]
                w.Write(localScope);                                 // dwLocalScopeId
                WritePort(w, localPort);                             // dwLocalPort
                w.Write(IPAddress.Parse(remote).GetAddressBytes());  // ucRemoteAddr[16]
                w.Write(remoteScope);                                // dwRemoteScopeId
                WritePort(w, remotePort);                            // dwRemotePort
                w.Write((uint)state);                                // dwState
                w.Write(pid);                                        // dwOwningPid
            }
            else
            {
                w.Write((uint)state);                                // dwState
                w.Write(IPAddress.Parse(local).GetAddressBytes());   // dwLocalAddr, network order
                WritePort(w, localPort);                             // dwLocalPort
                w.Write(IPAddress.Parse(remote).GetAddressBytes());  // dwRemoteAddr
                WritePort(w, remotePort);                            // dwRemotePort
                w.Write(pid);                                        // dwOwningPid
            }

            if (_module)
            {
                w.Write(createTimestamp);                            // liCreateTimestamp (already 8-aligned: 24 or 56)
                for (int i = 0; i < 16; i++)
                {
                    w.Write(0xABABABABABABABABUL);                   // OwningModuleInfo[16]: opaque
                }
            }

            _rows.Add(ms.ToArray());
            return this;
        }

        /// <summary>The table; extra bytes model the headroom the caller allocated beyond the rows.</summary>
        internal byte[] Build(int count = -1, int extra = 0)
        {
            var ms = new MemoryStream();
            var w = new BinaryWriter(ms);
            w.Write((uint)(count < 0 ? _rows.Count : count));
            if (_module)
            {
                w.Write(0u); // the rows hold a LARGE_INTEGER: they start 8-aligned
            }

            foreach (var r in _rows)
            {
                w.Write(r);
            }

            w.Write(new byte[extra]);
            return ms.ToArray();
        }

        /// <summary>The port's two bytes, most significant first, in the low word of a DWORD; the high word is junk Windows may leave.</summary>
        private static void WritePort(BinaryWriter w, int port)
        {
            w.Write((byte)(port >> 8));
            w.Write((byte)port);
            w.Write((byte)0x5A);
            w.Write((byte)0xA5);
        }
    }
}
