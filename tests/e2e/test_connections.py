#!/usr/bin/python3
"""`gapd serve --connections N`: one gapd process serving several i-PI connections at once, against
fake_ipi.py (i-PI 3.3.0's server side). Scenarios:

  replicas_equal_predict  --connections 3 (UNIX): three clients connect; each round of 3 replicas is spread over
                          the three connections; every result equals `gapd predict` on the structure as gapd
                          receives it (1e-12 relative), and the same structure computed by each of the three
                          connections gives bit-identical replies
  one_exit                then i-PI sends EXIT to one connection only: that connection ends (and does not
                          reconnect), the two others go on serving; EXIT to the rest: gapd exits 0 after the last
  sigterm_tcp_yaml        --connections 3 over TCP, options from a YAML file (connections: 3): SIGTERM ends all
                          three connections with an orderly close, exit 0
  ipi_restart             --connections 2: i-PI vanishes without EXIT; each connection reconnects on its own to the
                          restarted i-PI and serves it; exit 0 on its EXIT

Usage: test_connections.py --gapd build/gapd [--timeout 240] [--workdir DIR]. Exit 0 = pass.
"""

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback

import numpy as np

import e2e_common as common
from e2e_common import TestFailure
from fake_ipi import FakeIpi
from test_fault_matrix import Env, same_result

NATOMS = 40


def check_against_predict(env, requests, tag):
    """Every request's result equals `gapd predict` on the structure exactly as gapd received it."""
    frames = []
    for r in requests:
        cell = r.h.T * common.BOHR_2018  # what frame_conversion computes: h^T x Bohr, rows = lattice vectors
        pos = r.pos.reshape(-1, 3) * common.BOHR_2018
        frames.append({"symbols": env.structures[NATOMS][2], "positions": pos, "cell": cell})
    inp = os.path.join(env.workdir, "%s_in.extxyz" % tag)
    out = os.path.join(env.workdir, "%s_out.extxyz" % tag)
    common.write_extxyz(inp, frames)
    p = common.run([env.gapd, "predict", "-m", env.model, "-o", out, "--threads", "1", inp], 120)
    if p.returncode != 0:
        raise TestFailure("gapd predict failed: %s" % p.stderr)
    worst = 0.0
    for r, fr in zip(requests, common.read_extxyz(out)):
        e_pred = float(fr["info"]["energy"])
        e_got = r.result[0] * common.HARTREE_2018
        f_got = r.result[1] * common.HARTREE_PER_BOHR_2018
        rel = abs(e_got - e_pred) / abs(e_pred)
        df = float(np.max(np.abs(f_got - fr["arrays"]["forces"])))
        worst = max(worst, rel)
        if rel > 1e-12 or df > 1e-10:
            raise TestFailure("request %d: energy %.15g eV vs predict %.15g (rel %.1e), forces differ by %.1e eV/Å"
                              % (r.id, e_got, e_pred, rel, df))
    return worst


def round_of(env, n, step, same=False):
    return [env.request(NATOMS, rid=k, displacement=0.03, seed=0 if same else 100 * step + k) for k in range(n)]


def scenario_replicas_and_one_exit(env, results):
    addr = env.address("conn")
    with env.fake(addr) as ipi:
        g = env.start_gapd("conn3", addr, NATOMS, threads=2, extra=("--connections", "3"))
        ipi.wait_for_clients(3, 30)
        served = []
        for step in range(3):
            reqs = round_of(env, 3, step)
            ipi.run(reqs, 60)
            served.append(sorted(r.served_by[0] for r in reqs))
            worst = check_against_predict(env, reqs, "round%d" % step)
        if any(len(set(s)) != 3 for s in served):
            raise TestFailure("a round of 3 replicas was not spread over the 3 connections: %r" % served)
        same = round_of(env, 3, 0, same=True)
        ipi.run(same, 60)
        if len({r.served_by[0] for r in same}) != 3:
            raise TestFailure("the identical structures were not computed by three connections")
        if not (same_result(same[0].result, same[1].result) and same_result(same[0].result, same[2].result)):
            raise TestFailure("the same structure gave different replies on different connections")
        results.append(("replicas_equal_predict", "PASS", "3 rounds x 3 replicas on 3 connections, max energy "
                        "deviation from predict %.1e rel; identical bits across connections" % worst))

        # EXIT to one connection only (what i-PI's <timeout> does to a slow client).
        victim = ipi.clients[0]
        victim.shutdown("exit")
        ipi.clients.remove(victim)
        accepts = ipi.count("accept")
        for step in range(3, 5):
            reqs = round_of(env, 2, step)
            ipi.run(reqs, 60)
            check_against_predict(env, reqs, "after_exit%d" % step)
        time.sleep(1.0)  # a reconnection of the ended connection would be accepted here
        ipi.pool_update()
        if not g.running():
            raise TestFailure("gapd exited after EXIT on one of its 3 connections:\n%s" % g.log()[-1500:])
        if ipi.count("accept") != accepts:
            raise TestFailure("the connection that received EXIT connected again")
        log = g.log()
        if log.count("i-PI sent EXIT") != 1 or "connection ended (exit code 0)" not in log:
            raise TestFailure("expected exactly one connection to end on EXIT; log:\n%s" % log[-1500:])
    code = g.wait(15)  # the fake sent EXIT to the two others on close
    g.check_no_crash()
    if code != 0:
        raise TestFailure("gapd exit %s after the last connection's EXIT, expected 0" % code)
    if g.log().count("connection ended (exit code 0)") != 3:
        raise TestFailure("not every connection ended with code 0:\n%s" % g.log()[-1500:])
    results.append(("one_exit", "PASS", "EXIT on 1 of 3: gapd kept serving on 2 (no reconnection), "
                    "exit 0 after the last EXIT"))


def scenario_sigterm_tcp_yaml(env, results):
    port = common.free_tcp_port()
    ipi = FakeIpi("127.0.0.1", "inet", port=port, status_wait=20.0, hang_after=30.0).open()
    yaml_path = os.path.join(env.workdir, "serve.yaml")
    with open(yaml_path, "w") as f:
        f.write("model: %s\ntemplate: %s\naddress: 127.0.0.1\nport: %d\nconnections: 3\nthreads: 3\n"
                "connect-timeout: 20\n" % (env.model, env.templates[NATOMS], port))
    g = common.start_process([env.gapd, "serve", "--config", yaml_path],
                             os.path.join(env.workdir, "gapd_sigterm.log"))
    env.procs.append(g)
    log_path = os.path.join(env.workdir, "gapd_sigterm.log")
    try:
        ipi.wait_for_clients(3, 30)
        reqs = round_of(env, 3, 7)
        ipi.run(reqs, 60)
        check_against_predict(env, reqs, "tcp")
        g.send_signal(signal.SIGTERM)
        code = common.wait_process(g, 15, "gapd after SIGTERM")
        # Each connection closed in order: reading its socket gives end of stream.
        ends = []
        for c in ipi.clients:
            c.sock.settimeout(5)
            try:
                ends.append("eof" if c.sock.recv(1) == b"" else "data")
            except OSError as e:
                ends.append("error %s" % e)
    finally:
        ipi.close()
    log = open(log_path, errors="replace").read()
    if code != 0:
        raise TestFailure("gapd exit %s after SIGTERM, expected 0:\n%s" % (code, log[-1500:]))
    if ends != ["eof"] * 3:
        raise TestFailure("connections did not all close in order after SIGTERM: %r" % ends)
    if log.count("stop requested") != 3 or "on 3 connections (threads per connection: 1 1 1)" not in log:
        raise TestFailure("expected 3 connections of 1 thread each, all stopped on request:\n%s" % log[-1500:])
    results.append(("sigterm_tcp_yaml", "PASS", "YAML connections: 3, TCP: SIGTERM closed all 3 in order, exit 0"))


def scenario_ipi_restart(env, results):
    addr = env.address("restart")
    ipi = env.fake(addr)
    g = env.start_gapd("restart", addr, NATOMS, threads=2, extra=("--connections", "2"))
    try:
        ipi.wait_for_clients(2, 30)
        before = round_of(env, 2, 11)
        ipi.run(before, 60)
        ipi.crash()
        ipi = env.fake(addr)
        ipi.wait_for_clients(2, 30)
        after = [env.request(NATOMS, rid=r.id, displacement=0.03, seed=100 * 11 + r.id) for r in before]
        ipi.run(after, 60)
        if len({r.served_by[0] for r in after}) != 2:
            raise TestFailure("after the restart the replicas were not served by 2 connections")
        for a, b in zip(before, after):
            if not same_result(a.result, b.result):
                raise TestFailure("the same structure gave another result after the reconnection")
    finally:
        ipi.close()
    code = g.wait(15)
    g.check_no_crash()
    # Each connection reconnects at least once (a connection may also reach the dying i-PI's listening socket
    # just before it closes, be reset, and reconnect once more).
    log = g.log()
    if code != 0 or any("[conn %d/2] reconnected to" % k not in log for k in (1, 2)):
        raise TestFailure("expected both connections to reconnect and exit 0 (exit %s):\n%s" % (code, log[-1500:]))
    results.append(("ipi_restart", "PASS", "i-PI crashed and restarted: both connections reconnected, exit 0"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gapd", required=True)
    parser.add_argument("--timeout", type=float, default=240)
    parser.add_argument("--workdir")
    args = parser.parse_args()
    keep = bool(args.workdir)
    args.workdir = os.path.abspath(args.workdir) if args.workdir else tempfile.mkdtemp(prefix="gapd_cn_", dir="/tmp")
    os.makedirs(args.workdir, exist_ok=True)
    results = []
    env = None
    ok = False
    try:
        with common.Watchdog(args.timeout, "test_connections"):
            env = Env(args)
            scenario_replicas_and_one_exit(env, results)
            scenario_sigterm_tcp_yaml(env, results)
            scenario_ipi_restart(env, results)
        ok = True
    except (TestFailure, TimeoutError, Exception) as e:  # noqa: BLE001 - report any failure
        traceback.print_exc()
        results.append(("(failed)", "FAIL", str(e).splitlines()[0] if str(e) else repr(e)))
    finally:
        if env is not None:
            env.cleanup()
    for name, status, detail in results:
        print("%-24s %-4s %s" % (name, status, detail))
    print("%d passed, %d failed" % (sum(1 for r in results if r[1] == "PASS"), 0 if ok else 1))
    if ok and not keep:
        shutil.rmtree(args.workdir, ignore_errors=True)
    elif not ok:
        print("work directory kept: %s" % args.workdir)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
