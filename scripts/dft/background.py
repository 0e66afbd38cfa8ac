"""Make a long DFT worker yield the CPU to interactive work (builds, tests, benchmarks).

`nice -n 19` alone is not enough on kernels with autogroup scheduling (/proc/sys/kernel/sched_autogroup_enabled
= 1, the default on desktop and many server kernels): CPU time is first split evenly between *sessions*, and
nice only ranks processes inside one session. A worker started with `setsid nohup ...` is a session of its own,
so at nice 19 it still took half of the machine from a compiler run at nice 0 (measured: cc1plus at 31% CPU,
CP2K and GPAW at 66% each, on 2 cores). Writing the niceness to /proc/self/autogroup lowers the whole session.
"""
import os
import sys


def yield_cpu(nice=19):
    """Set this process's niceness to at least `nice` and its autogroup's to `nice` (children inherit both)."""
    current = os.nice(0)
    if current < nice:
        os.nice(nice - current)
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(nice))
    except OSError as e:  # no autogroup support, or a kernel that refuses: plain nice still applies
        if os.path.exists("/proc/self/autogroup"):
            print(f"note: could not lower the autogroup priority ({e}); plain nice {nice} only", file=sys.stderr)
