#!/usr/bin/python3
"""Rank 0 of an MPI job playing i-PI 3.3's <ffmpi> side (ipi/interfaces/mpi.py) for gapd's tests: an independent
re-implementation of its messages (no i-PI code), for CI machines without i-PI.

  mpirun -n 1 python3 fake_ffmpi.py REQUEST.npz RESULT.npz : -n 1 gapd serve --mpi ...

REQUEST.npz: h (batch, 3, 3), ih (batch, 3, 3), pos (batch, 3n), all in Bohr, i-PI's layout; optional `init` text.
Does COMM_WORLD.Split(colour 0), collects the HELLO of every client rank, sends INIT, one WORK to the first
client root, waits for RESULT and EXTRA, then EXIT to every root; writes pot, force, vir, extras to RESULT.npz.
"""

import sys

import numpy as np
from mpi4py import MPI

TAG_HELLO, TAG_INIT, TAG_WORK, TAG_RESULT, TAG_EXTRA, TAG_EXIT = 1, 2, 3, 4, 5, 6


def main():
    req = np.load(sys.argv[1])
    comm = MPI.COMM_WORLD
    comm.Split(color=0, key=0)
    roots, covered, status = [], set(), MPI.Status()
    while covered != set(range(1, comm.Get_size())):
        comm.Probe(source=MPI.ANY_SOURCE, tag=TAG_HELLO, status=status)
        src = status.Get_source()
        buf = np.empty(status.Get_count(MPI.INT), np.int32)
        comm.Recv([buf, MPI.INT], source=src, tag=TAG_HELLO)
        comm.Probe(source=src, tag=TAG_HELLO, status=status)
        name = np.empty(status.Get_count(MPI.BYTE), np.uint8)
        comm.Recv([name, MPI.BYTE], source=src, tag=TAG_HELLO)
        roots.append(int(buf[0]))
        covered |= set(buf[2:].tolist())
    text = str(req["init"]) if "init" in req else " "
    pbytes = np.frombuffer(text.encode(), np.uint8)
    for r in roots:
        comm.Send([np.array([0, pbytes.size], np.int32), MPI.INT], dest=r, tag=TAG_INIT)
        comm.Send([pbytes, MPI.BYTE], dest=r, tag=TAG_INIT)
    h, ih, pos = req["h"], req["ih"], req["pos"]
    batch, nat = pos.shape[0], pos.shape[1] // 3
    body = np.concatenate([np.concatenate([h[i].ravel(), ih[i].ravel(), pos[i]]) for i in range(batch)])
    comm.Send([np.array([nat, batch], np.int32), MPI.INT], dest=roots[0], tag=TAG_WORK)
    comm.Send([body, MPI.DOUBLE], dest=roots[0], tag=TAG_WORK)
    numbers = np.empty(batch * (1 + 3 * nat + 9))
    comm.Recv([numbers, MPI.DOUBLE], source=roots[0], tag=TAG_RESULT)
    comm.Probe(source=roots[0], tag=TAG_EXTRA, status=status)
    ebuf = np.empty(status.Get_count(MPI.BYTE), np.uint8)
    comm.Recv([ebuf, MPI.BYTE], source=roots[0], tag=TAG_EXTRA)
    for r in roots:
        comm.Send([np.zeros(1, np.int32), MPI.INT], dest=r, tag=TAG_EXIT)
    stride = 1 + 3 * nat + 9
    numbers = numbers.reshape(batch, stride)
    extras, at = [], 0
    for _ in range(batch):
        n = int(np.frombuffer(ebuf[at:at + 4].tobytes(), np.int32)[0])
        extras.append(ebuf[at + 4:at + 4 + n].tobytes().decode())
        at += 4 + n
    np.savez(sys.argv[2], pot=numbers[:, 0], force=numbers[:, 1:1 + 3 * nat],
             vir=numbers[:, 1 + 3 * nat:].reshape(batch, 3, 3), extras=np.array(extras), roots=np.array(roots))


if __name__ == "__main__":
    main()
