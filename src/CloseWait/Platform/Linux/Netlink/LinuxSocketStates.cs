using System;

namespace CloseWait.Platform.Linux
{
    /// <summary>
    /// The socket table reduced to what a summary needs, filled straight from the netlink bytes:
    /// a count per kernel state and, for owner attribution, each socket's inode and state in two
    /// parallel arrays (5 bytes a socket) that <see cref="Seal"/> sorts by inode for lookups.
    /// </summary>
    internal sealed class LinuxSocketStates : LinuxInetDiag.IDiagSink
    {
        private const byte HeldFlag = 0x80;
        private readonly bool _keepInodes;
        private readonly int[] _byState = new int[13];
        private uint[] _inodes;
        private byte[] _states;
        private bool _sealed;

        internal LinuxSocketStates(bool keepInodes)
        {
            _keepInodes = keepInodes;
            _inodes = new uint[keepInodes ? 1024 : 0];
            _states = new byte[_inodes.Length];
        }

        /// <summary>Every socket read.</summary>
        public int Total
        {
            get
            {
                int total = 0;
                foreach (int n in _byState)
                {
                    total += n;
                }

                return total;
            }
        }

        /// <summary>Sockets kept for owner attribution: those with an inode (TIME_WAIT and request sockets have none).</summary>
        public int Count { get; private set; }

        /// <summary>Sockets in kernel state <paramref name="linuxState"/> (1..12).</summary>
        public int InState(int linuxState) => _byState[linuxState];

        public void Add(byte[] buf, int offset, int length)
        {
            if (_sealed)
            {
                throw new InvalidOperationException("The socket states are sealed.");
            }

            LinuxInetDiag.DecodeStateAndInode(buf, offset, length, out _, out byte state, out uint inode);
            _byState[state]++;
            if (_keepInodes && inode != 0)
            {
                if (Count == _inodes.Length)
                {
                    Array.Resize(ref _inodes, Count * 2);
                    Array.Resize(ref _states, Count * 2);
                }

                _inodes[Count] = inode;
                _states[Count] = state;
                Count++;
            }
        }

        /// <summary>Ends the reading: sorts by inode so that <see cref="IndexOf"/> can search.</summary>
        public void Seal()
        {
            if (!_sealed)
            {
                Array.Sort(_inodes, _states, 0, Count);
                _sealed = true;
            }
        }

        /// <summary>The position of a socket's inode, or -1. Read only: safe from several threads at once.</summary>
        public int IndexOf(ulong inode)
        {
            if (!_sealed || inode > uint.MaxValue)
            {
                return -1;
            }

            int i = Array.BinarySearch(_inodes, 0, Count, (uint)inode);
            return i < 0 ? -1 : i;
        }

        public bool Contains(ulong inode) => IndexOf(inode) >= 0;

        /// <summary>The kernel state of the socket at <paramref name="index"/>.</summary>
        public int StateAt(int index) => _states[index] & ~HeldFlag;

        /// <summary>Marks the socket at <paramref name="index"/> as held by some process; true the first time.</summary>
        public bool MarkHeld(int index)
        {
            if ((_states[index] & HeldFlag) != 0)
            {
                return false;
            }

            _states[index] |= HeldFlag;
            return true;
        }
    }
}
