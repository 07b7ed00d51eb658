using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Threading;
using CloseWait.Platform;
using CloseWait.Platform.Linux;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>
    /// The inet_diag bytecode port filter: checked against a copy of the kernel's audit and
    /// interpreter (net/ipv4/inet_diag.c, the port and jump ops), then against the kernel itself;
    /// and the one-walk dump of both families against one dump per family.
    /// </summary>
    public sealed class LinuxPortFilterTests
    {
        [Theory]
        [InlineData(new int[0], new int[] { 443 })]
        [InlineData(new int[] { 80 }, new int[0])]
        [InlineData(new int[] { 80, 443, 8080 }, new int[0])]
        [InlineData(new int[] { 22, 65535 }, new int[] { 0, 1, 50000 })]
        [InlineData(new int[] { 7 }, new int[] { 7 })]
        public void ProgramPassesTheKernelAuditAndKeepsExactlyTheWantedPorts(int[] local, int[] remote)
        {
            byte[]? program = LinuxInetDiag.BuildPortFilter(local, remote);
            Assert.NotNull(program);
            Assert.True(KernelAudit(program!), "the kernel's audit would refuse this program");

            var probes = local.Concat(remote).SelectMany(p => new[] { p - 1, p, p + 1 }).Append(0).Append(65535).Where(p => p >= 0 && p <= 65535).Distinct().ToArray();
            foreach (int s in probes)
            {
                foreach (int d in probes)
                {
                    bool want = (local.Length == 0 || local.Contains(s)) && (remote.Length == 0 || remote.Contains(d));
                    Assert.True(want == KernelRun(program!, s, d), $"sport {s} dport {d}: expected {(want ? "kept" : "skipped")}");
                }
            }
        }

        [Fact]
        public void NothingToFilterOrTooManyPortsMeansNoProgram()
        {
            Assert.Null(LinuxInetDiag.BuildPortFilter(null, null));
            Assert.Null(LinuxInetDiag.BuildPortFilter(new int[0], new HashSet<int>()));
            var many = Enumerable.Range(1000, LinuxInetDiag.MaxBytecodePorts + 1).ToArray();
            Assert.Null(LinuxInetDiag.BuildPortFilter(many, null));

            // Too many on one side: the other side is still filtered by the kernel.
            byte[]? remoteOnly = LinuxInetDiag.BuildPortFilter(many, new[] { 9 });
            Assert.NotNull(remoteOnly);
            Assert.True(KernelRun(remoteOnly!, 1, 9));
            Assert.False(KernelRun(remoteOnly!, 1000, 8));
        }

        /// <summary>Get-TcpPortUsage asks for local ports inside the ephemeral range, alone or with destination ports.</summary>
        [Theory]
        [InlineData(40000, 40099, new int[0], new int[0])]
        [InlineData(32768, 60999, new int[0], new int[] { 443, 80 })]
        [InlineData(1024, 1024, new int[] { 1024, 2000 }, new int[] { 5 })]
        public void ALocalPortRangePassesTheAuditAndKeepsExactlyThatRange(int start, int end, int[] local, int[] remote)
        {
            byte[]? program = LinuxInetDiag.BuildPortFilter(local, remote, (start, end));
            Assert.NotNull(program);
            Assert.True(KernelAudit(program!), "the kernel's audit would refuse this program");
            var probes = new[] { 0, 1, start - 1, start, start + 1, end - 1, end, end + 1, 65535 }.Concat(local).Concat(remote).SelectMany(p => new[] { p - 1, p, p + 1 })
                .Where(p => p >= 0 && p <= 65535).Distinct().ToArray();
            foreach (int s in probes)
            {
                foreach (int d in probes)
                {
                    bool want = s >= start && s <= end && (local.Length == 0 || local.Contains(s)) && (remote.Length == 0 || remote.Contains(d));
                    Assert.True(want == KernelRun(program!, s, d), $"sport {s} dport {d}: expected {(want ? "kept" : "skipped")}");
                }
            }
        }

        [Fact]
        public void LargestProgramStillPassesTheAudit()
        {
            var ports = Enumerable.Range(1, LinuxInetDiag.MaxBytecodePorts).ToArray();
            byte[]? program = LinuxInetDiag.BuildPortFilter(ports, ports.Select(p => p + 60000).Where(p => p <= 65535).ToArray());
            Assert.True(KernelAudit(program!));
            Assert.True(KernelRun(program!, LinuxInetDiag.MaxBytecodePorts, 60000 + LinuxInetDiag.MaxBytecodePorts));
            Assert.False(KernelRun(program!, LinuxInetDiag.MaxBytecodePorts + 1, 60001));
            Assert.False(KernelRun(program!, 1, 60000));
        }

        [Fact]
        public void DumpRequestCarriesTheProgramAsAnAttribute()
        {
            byte[] program = LinuxInetDiag.BuildPortFilter(new[] { 80 }, null)!;
            byte[] r = LinuxInetDiag.BuildDumpRequest(LinuxInetDiag.AF_INET, 1u << 8, withTcpInfo: false, sequence: 5, bytecode: program);
            int attr = LinuxInetDiag.NLMSG_HDRLEN + LinuxInetDiag.ReqV2Size;
            Assert.Equal((uint)r.Length, LinuxInetDiag.ReadU32(r, 0));
            Assert.Equal(LinuxInetDiag.RtaHdrLen + program.Length, LinuxInetDiag.ReadU16(r, attr));
            Assert.Equal(LinuxInetDiag.INET_DIAG_REQ_BYTECODE, LinuxInetDiag.ReadU16(r, attr + 2));
            Assert.Equal(program, r.Skip(attr + LinuxInetDiag.RtaHdrLen).Take(program.Length).ToArray());
        }

        [Fact]
        public void KernelSendsOnlyTheSocketsOfTheWantedPorts()
        {
            using var a = LoopbackSockets.CloseWait(IPAddress.Loopback, count: 3);
            using var b = LoopbackSockets.CloseWait(IPAddress.Loopback, count: 2);
            var table = new LinuxSocketTable { ForcedBackend = LinuxTableBackend.Netlink };

            var byLocal = table.Read(new SocketQuery { LocalPorts = new[] { a.Port } }, CancellationToken.None).ToList();
            Assert.All(byLocal, c => Assert.Equal(a.Port, c.LocalPort));
            Assert.Equal(3, byLocal.Count(c => c.State == TcpState.CloseWait));
            Assert.Contains(byLocal, c => c.State == TcpState.Listen);

            var byRemote = table.Read(new SocketQuery { RemotePorts = new[] { b.ClientPorts[1] } }, CancellationToken.None).ToList();
            Assert.Single(byRemote, c => c.State == TcpState.CloseWait);
            Assert.All(byRemote, c => Assert.Equal(b.ClientPorts[1], c.RemotePort));

            var both = table.Read(new SocketQuery { LocalPorts = new[] { a.Port, b.Port }, RemotePorts = new[] { a.ClientPorts[0], b.ClientPorts[0] } }, CancellationToken.None).ToList();
            Assert.Equal(2, both.Count);
        }

        [Fact]
        public void OneDumpForBothFamiliesReadsWhatOneDumpPerFamilyReads()
        {
            using var v4 = LoopbackSockets.CloseWait(IPAddress.Loopback, count: 2);
            using var v6 = LoopbackSockets.CloseWait(IPAddress.IPv6Loopback, count: 2);
            var query = new SocketQuery { States = new[] { TcpState.CloseWait, TcpState.Listen }, LocalPorts = new[] { v4.Port, v6.Port } };
            var once = new LinuxSocketTable { ForcedBackend = LinuxTableBackend.Netlink, BothFamiliesAtOnce = true };
            var perFamily = new LinuxSocketTable { ForcedBackend = LinuxTableBackend.Netlink, BothFamiliesAtOnce = false };

            var a = once.Read(query, CancellationToken.None).Select(c => (c.Cookie, c.AddressFamily, c.State, c.LocalPort, c.RemotePort, c.ReceiveQueue, c.Inode)).OrderBy(c => c.Cookie).ToList();
            var b = perFamily.Read(query, CancellationToken.None).Select(c => (c.Cookie, c.AddressFamily, c.State, c.LocalPort, c.RemotePort, c.ReceiveQueue, c.Inode)).OrderBy(c => c.Cookie).ToList();

            Assert.Equal(6, a.Count); // per family: a listener and two CLOSE_WAIT
            Assert.Equal(b, a);
            Assert.Equal(3, a.Count(c => c.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6));
        }

        [Fact]
        public void BothFamiliesRequestIsTheLegacyRequestWithItsFilters()
        {
            byte[] program = LinuxInetDiag.BuildPortFilter(null, new[] { 443 })!;
            byte[] r = LinuxInetDiag.BuildBothFamiliesDumpRequest(1u << 8, withTcpInfo: true, sequence: 9, bytecode: program);
            int o = LinuxInetDiag.NLMSG_HDRLEN;
            Assert.Equal((uint)r.Length, LinuxInetDiag.ReadU32(r, 0));
            Assert.Equal(LinuxInetDiag.TCPDIAG_GETSOCK, LinuxInetDiag.ReadU16(r, 4));
            Assert.Equal(0, r[o]); // idiag_family: the kernel asks for AF_UNSPEC itself
            Assert.Equal(1 << (LinuxInetDiag.INET_DIAG_INFO - 1), r[o + 3]);
            Assert.Equal(1u << 8, LinuxInetDiag.ReadU32(r, o + 4 + LinuxInetDiag.SockIdSize));
            int attr = o + LinuxInetDiag.ReqCompatSize;
            Assert.Equal(LinuxInetDiag.INET_DIAG_REQ_BYTECODE, LinuxInetDiag.ReadU16(r, attr + 2));
            Assert.Equal(program, r.Skip(attr + LinuxInetDiag.RtaHdrLen).Take(program.Length).ToArray());
        }

        // A copy of inet_diag_bc_audit() for the ops the filter uses.
        private static bool KernelAudit(byte[] bc)
        {
            int len = bc.Length;
            int at = 0;
            while (len > 0)
            {
                byte code = bc[at];
                int minLen = LinuxInetDiag.BcOpSize;
                switch (code)
                {
                    case LinuxInetDiag.INET_DIAG_BC_S_GE:
                    case LinuxInetDiag.INET_DIAG_BC_S_LE:
                    case LinuxInetDiag.INET_DIAG_BC_D_GE:
                    case LinuxInetDiag.INET_DIAG_BC_D_LE:
                        minLen += LinuxInetDiag.BcOpSize;
                        if (len < minLen)
                        {
                            return false;
                        }

                        break;
                    case LinuxInetDiag.INET_DIAG_BC_JMP:
                        break;
                    default:
                        return false;
                }

                int yes = bc[at + 1];
                int no = LinuxInetDiag.ReadU16(bc, at + 2);
                if (no < minLen || no > len + 4 || (no & 3) != 0)
                {
                    return false;
                }

                if (no < len && !ValidCc(bc, bc.Length, len - no))
                {
                    return false;
                }

                if (yes < minLen || yes > len + 4 || (yes & 3) != 0)
                {
                    return false;
                }

                at += yes;
                len -= yes;
            }

            return len == 0;
        }

        private static bool ValidCc(byte[] bc, int len, int cc)
        {
            int at = 0;
            while (len >= 0)
            {
                if (cc > len)
                {
                    return false;
                }

                if (cc == len)
                {
                    return true;
                }

                int yes = bc[at + 1];
                if (yes < 4 || (yes & 3) != 0)
                {
                    return false;
                }

                len -= yes;
                at += yes;
            }

            return false;
        }

        // A copy of inet_diag_bc_run() for the ops the filter uses.
        private static bool KernelRun(byte[] bc, int sport, int dport)
        {
            int len = bc.Length;
            int at = 0;
            while (len > 0)
            {
                bool yes = true;
                int port = at + 4 < bc.Length ? LinuxInetDiag.ReadU16(bc, at + 6) : 0;
                switch (bc[at])
                {
                    case LinuxInetDiag.INET_DIAG_BC_JMP:
                        yes = false;
                        break;
                    case LinuxInetDiag.INET_DIAG_BC_S_GE:
                        yes = sport >= port;
                        break;
                    case LinuxInetDiag.INET_DIAG_BC_S_LE:
                        yes = sport <= port;
                        break;
                    case LinuxInetDiag.INET_DIAG_BC_D_GE:
                        yes = dport >= port;
                        break;
                    case LinuxInetDiag.INET_DIAG_BC_D_LE:
                        yes = dport <= port;
                        break;
                }

                int step = yes ? bc[at + 1] : LinuxInetDiag.ReadU16(bc, at + 2);
                len -= step;
                at += step;
            }

            return len == 0;
        }
    }
}
