#!/usr/bin/python3
"""End-to-end: `gapd serve` driven by ASE's SocketIOCalculator (an independent implementation of the i-PI
server side), over a UNIX socket and over TCP, compared with `gapd predict` on the same structures.

Scenarios (one `gapd serve` each, all with timeouts; gapd is killed on failure):
  unix       5 BaTiO3 structures (cubic, orthorhombic, lower-triangular triclinic, rotated triclinic with all
             nine cell components non-zero, atoms outside the cell); then ASE closes WITHOUT EXIT, gapd must
             reconnect to a new ASE server on the same socket name (an i-PI restart), answer again, and exit 0
             after EXIT.
  tcp        the same structures on 127.0.0.1:<ephemeral port>, `--no-reconnect`; EXIT -> gapd exits 0.
  tcp-noexit `--no-reconnect`, ASE closes without EXIT -> gapd must exit non-zero and say why.

Units. ASE 3.22 (Debian) uses CODATA 2014 (ase.units: Bohr = 0.52917721056 Å, Hartree = 27.211386024 eV);
gapd uses CODATA 2018 (Bohr = 0.529177210903 Å, Hartree = 27.211386245988 eV). The relative differences
(6.4e-10 in length, 8.1e-9 in energy) are larger than the tolerances, so the comparison is done exactly as the
numbers travel: ASE sends x/Bohr_ASE, gapd computes on x_g = (x/Bohr_ASE)*Bohr_2018 (so `gapd predict` is
run on x_g), gapd sends E/Hartree_2018 and ASE reads E_ASE = (E/Hartree_2018)*Hartree_ASE; likewise forces
(Hartree/Bohr) and the virial (Hartree; ASE's stress = -virial/V with V its own volume). The code reads
ase.units, so it stays right if a later ASE switches to CODATA 2018. For information the test also prints
how far off a naive comparison (same Å structure, no constant bookkeeping) would be.

Tolerances: energy 1e-9 relative, forces 1e-8 eV/Å, stress 1e-10 eV/Å^3. Exit code 0 = pass.
"""

import argparse
import os
import sys
import time

import numpy as np

import e2e_common as common
from e2e_common import TestFailure

import ase
import ase.calculators.socketio as socketio
import ase.units
from ase import Atoms
from ase.stress import full_3x3_to_voigt_6_stress
from make_batio3_supercell import build_supercell

E_REL_TOL = 1e-9
F_TOL = 1e-8
S_TOL = 1e-10


def loopback_inetsocket(port):
    """ASE's bind_inetsocket binds ('', port), i.e. every interface; the test only needs loopback."""
    import contextlib
    import socket

    @contextlib.contextmanager
    def ctx():
        s = socket.socket(socket.AF_INET)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        with s:
            yield s

    return ctx()


socketio.bind_inetsocket = loopback_inetsocket

# ASE 3.22's IPIProtocol.calculate does `if morebytes:` on the numpy int8 array of the extras string, which
# raises ValueError for any extras of 2 bytes or more (e.g. the JSON object "{}"); 0 or 1 byte works. The
# patch below hands ASE the bytes instead and records every extras string, so the test checks the energies
# and separately what gapd sends as extras (must be empty/whitespace or a JSON object, i-PI's rule).
# By default ASE runs unmodified (gapd sends one space for a pure GAP); `--patch-ase` applies the patch.
EXTRAS_SEEN = []
_original_sendrecv_force = socketio.IPIProtocol.sendrecv_force


def _sendrecv_force_bytes(self):
    e, forces, virial, morebytes = _original_sendrecv_force(self)
    if isinstance(morebytes, np.ndarray):
        morebytes = morebytes.tobytes()
    EXTRAS_SEEN.append(bytes(morebytes))
    return e, forces, virial, morebytes


def patch_ase_extras():
    socketio.IPIProtocol.sendrecv_force = _sendrecv_force_bytes


def check_extras():
    import json
    kinds = sorted(set(EXTRAS_SEEN))
    for x in kinds:
        text = x.decode("utf-8")  # raises on invalid UTF-8
        if text.strip():
            obj = json.loads(text)
            if not isinstance(obj, dict) or "raw" in obj:
                raise TestFailure("gapd sent extras %r: i-PI needs empty text or a JSON object without 'raw'"
                                  % text)
    shown = ", ".join(repr(x.decode()) for x in kinds)
    note = ""
    if any(len(x) >= 2 for x in kinds):
        note = " (NOTE: >= 2 bytes of extras crash an unpatched ASE 3.22 SocketIOCalculator)"
    print("  extras sent by gapd: %s%s" % (shown, note))


def make_structures():
    """Five 40-atom BaTiO3 structures with the same species order and different cells."""
    symbols, pos, cell = build_supercell(2, 4.0, displacement=0.08, seed=7)
    pos, cell = np.array(pos), np.array(cell)
    frac = pos @ np.linalg.inv(cell)
    out = [("cubic", cell, pos)]
    ortho = np.diag([8.2, 7.8, 8.05])
    out.append(("orthorhombic", ortho, frac @ ortho))
    tri = np.array([[8.0, 0.0, 0.0], [0.9, 7.9, 0.0], [-0.5, 0.7, 8.1]])  # ASE's lower-triangular convention
    out.append(("triclinic", tri, frac @ tri))
    # A general rotation: the cell matrix i-PI would never send (not upper triangular in any sense).
    axis = np.array([1.0, -2.0, 0.5]) / np.linalg.norm([1.0, -2.0, 0.5])
    angle = 0.7
    kx = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rot = np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx
    out.append(("triclinic_rotated", tri @ rot.T, (frac @ tri) @ rot.T))
    # Atoms moved out of the cell by whole lattice vectors (i-PI does not wrap by default).
    shifted = pos.copy()
    shifts = np.zeros((len(pos), 3))
    shifts[::3] = [1, 0, -1]
    shifts[1::7] = [-2, 1, 0]
    shifted += shifts @ cell
    out.append(("unwrapped", cell, shifted))
    return symbols, out


class Expected:
    """`gapd predict` results for the structures as gapd receives them, converted to what ASE must report."""

    def __init__(self, gapd, model, workdir, symbols, structures):
        self.naive = None
        frames_gapd, frames_naive = [], []
        for name, cell, pos in structures:
            # Mirror the wire exactly: ASE divides by its Bohr, gapd multiplies by CODATA 2018's.
            frames_gapd.append({"symbols": symbols, "cell": (cell / ase.units.Bohr) * common.BOHR_2018,
                                "positions": (pos / ase.units.Bohr) * common.BOHR_2018})
            frames_naive.append({"symbols": symbols, "cell": cell, "positions": pos})
        self.results = self._predict(gapd, model, workdir, "as_gapd_sees_them", frames_gapd, structures)
        self.naive = self._predict(gapd, model, workdir, "naive", frames_naive, structures, convert=False)

    @staticmethod
    def _predict(gapd, model, workdir, tag, frames, structures, convert=True):
        results = []
        for (name, cell, pos), fr in zip(structures, common.predict_frames(gapd, workdir, tag, frames, ["-m", model])):
            e = float(fr["info"]["energy"])
            f = fr["arrays"]["forces"]
            w = common.info_floats(fr, "virial").reshape(3, 3)
            volume = abs(np.linalg.det(cell))  # ASE's own volume, in its Å
            if convert:
                e = (e / common.HARTREE_2018) * ase.units.Ha
                f = (ase.units.Ha / ase.units.Bohr) * (f / common.HARTREE_PER_BOHR_2018)
                w = ase.units.Ha * (w / common.HARTREE_2018)
            stress = full_3x3_to_voigt_6_stress(-w / volume)
            results.append({"energy": e, "forces": f, "stress": stress})
        return results


def compare(label, name, got, want, worst):
    de = abs(got["energy"] - want["energy"])
    rel = de / max(abs(want["energy"]), 1e-300)
    df = float(np.max(np.abs(got["forces"] - want["forces"])))
    ds = float(np.max(np.abs(got["stress"] - want["stress"])))
    worst["e"] = max(worst["e"], rel)
    worst["f"] = max(worst["f"], df)
    worst["s"] = max(worst["s"], ds)
    print("  %-5s %-18s E = %.12f eV  |dE|/|E| = %.1e  max|dF| = %.1e eV/Å  max|dS| = %.1e eV/Å^3"
          % (label, name, got["energy"], rel, df, ds))
    errors = []
    if not rel <= E_REL_TOL:
        errors.append("energy differs by %.3e relative (> %g)" % (rel, E_REL_TOL))
    if not df <= F_TOL:
        errors.append("forces differ by %.3e eV/Å (> %g)" % (df, F_TOL))
    if not ds <= S_TOL:
        errors.append("stress differs by %.3e eV/Å^3 (> %g)" % (ds, S_TOL))
    if errors:
        raise TestFailure("%s, %s: %s" % (label, name, "; ".join(errors)))


def ase_results(calc, symbols, cell, pos):
    atoms = Atoms(symbols=symbols, positions=pos, cell=cell, pbc=True)
    atoms.calc = calc
    return {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces().copy(),
            "stress": atoms.get_stress().copy()}


def make_calculator(log_file, **kw):
    return socketio.SocketIOCalculator(timeout=60.0, log=log_file, **kw)


def first_contact(calc, proc, fn):
    """Runs fn() with ASE watching the gapd process while it waits for the connection (ASE's own mechanism:
    with server.proc set, accept() polls the process and raises if it died)."""
    calc.server.proc = proc
    try:
        return fn()
    finally:
        calc.server.proc = None  # otherwise ASE's close() would wait for gapd without a timeout


def send_exit_and_close(calc):
    # ASE 3.22 does not send EXIT on close (the call is commented out in SocketServer.close); i-PI does.
    # Send it explicitly, then drop the protocol object so that an ASE that does send EXIT on close does not
    # send it a second time.
    if calc.server is not None and calc.server.protocol is not None:
        calc.server.protocol.end()
        calc.server.protocol = None
    calc.close()


def close_without_exit(calc):
    if calc.server is not None:
        calc.server.protocol = None
    calc.close()


def compute_all(label, calc, proc, symbols, structures, expected, worst):
    """Every structure through ASE's calculator (the first waits for gapd to connect), compared with predict."""
    for k, (sname, cell, pos) in enumerate(structures):
        fn = lambda: ase_results(calc, symbols, cell, pos)  # noqa: E731
        got = first_contact(calc, proc, fn) if k == 0 else fn()
        compare(label, sname, got, expected.results[k], worst)


def exit_expecting_zero(label, calc, proc):
    """Sends EXIT and closes ASE's server (calc.close() may be called again); gapd must exit 0."""
    send_exit_and_close(calc)
    code = common.wait_process(proc, 30, "gapd serve (%s) after EXIT" % label)
    if code != 0:
        raise TestFailure("gapd serve (%s) exited with %d after EXIT, expected 0" % (label, code))


def scenario_unix(args, workdir, symbols, structures, expected, worst):
    name = "gapd-e2e-ase-%d" % os.getpid()
    sock_path = "/tmp/ipi_" + name
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    template = os.path.join(workdir, "template.extxyz")
    gapd_log = os.path.join(workdir, "gapd_unix.log")
    ase_log = open(os.path.join(workdir, "ase_unix.log"), "w")
    proc = calc = None
    try:
        calc = make_calculator(ase_log, unixsocket=name)
        proc = common.start_process([args.gapd, "serve", "-u", "-a", name, "-m", args.model, "-t", template,
                                     "--threads", "1", "--connect-timeout", "30", "-v"], gapd_log)
        compute_all("unix", calc, proc, symbols, structures, expected, worst)

        # i-PI "restart": the server goes away without EXIT, a new one appears on the same address.
        close_without_exit(calc)
        calc = None
        time.sleep(0.3)
        if proc.poll() is not None:
            raise TestFailure("gapd exited (code %s) when ASE closed without EXIT; it should wait to reconnect"
                              % proc.returncode)
        calc = make_calculator(ase_log, unixsocket=name)
        sname, cell, pos = structures[2]
        got = first_contact(calc, proc, lambda: ase_results(calc, symbols, cell, pos))
        compare("unix", sname + "(reconn)", got, expected.results[2], worst)

        exit_expecting_zero("unix", calc, proc)
        calc = None
        log = open(gapd_log, errors="replace").read()
        for needle in ("reconnected to", "i-PI sent EXIT"):
            if needle not in log:
                raise TestFailure("gapd log lacks '%s'" % needle)
        print("  unix  gapd reconnected after the server restarted, exited 0 after EXIT")
    except BaseException:
        sys.stderr.write("---- gapd (unix) log tail ----\n" + common.tail(gapd_log))
        raise
    finally:
        if calc is not None:
            close_without_exit(calc)
        common.kill_process(proc)
        ase_log.close()
        if os.path.exists(sock_path):
            os.unlink(sock_path)


def scenario_tcp(args, workdir, symbols, structures, expected, worst):
    template = os.path.join(workdir, "template.extxyz")
    gapd_log = os.path.join(workdir, "gapd_tcp.log")
    ase_log = open(os.path.join(workdir, "ase_tcp.log"), "w")
    proc = calc = None
    try:
        for attempt in range(5):  # the ephemeral port can be taken between probing and binding
            port = common.free_tcp_port()
            try:
                calc = make_calculator(ase_log, port=port)
                break
            except OSError:
                if attempt == 4:
                    raise
        proc = common.start_process([args.gapd, "serve", "-a", "127.0.0.1", "-p", str(port), "-m", args.model,
                                     "-t", template, "--threads", "1", "--connect-timeout", "30",
                                     "--no-reconnect", "-v"], gapd_log)
        compute_all("tcp", calc, proc, symbols, structures, expected, worst)
        exit_expecting_zero("tcp", calc, proc)
        calc = None
        print("  tcp   port %d, gapd exited 0 after EXIT" % port)
    except BaseException:
        sys.stderr.write("---- gapd (tcp) log tail ----\n" + common.tail(gapd_log))
        raise
    finally:
        if calc is not None:
            close_without_exit(calc)
        common.kill_process(proc)
        ase_log.close()


def scenario_tcp_noexit(args, workdir, symbols, structures, expected, worst):
    template = os.path.join(workdir, "template.extxyz")
    gapd_log = os.path.join(workdir, "gapd_tcp_noexit.log")
    proc = calc = None
    try:
        port = common.free_tcp_port()
        calc = make_calculator(None, port=port)
        proc = common.start_process([args.gapd, "serve", "-a", "127.0.0.1", "-p", str(port), "-m", args.model,
                                     "-t", template, "--threads", "1", "--connect-timeout", "30",
                                     "--no-reconnect"], gapd_log)
        sname, cell, pos = structures[0]
        got = first_contact(calc, proc, lambda: ase_results(calc, symbols, cell, pos))
        compare("tcp", sname + "(noexit)", got, expected.results[0], worst)
        close_without_exit(calc)
        calc = None
        code = common.wait_process(proc, 30, "gapd serve --no-reconnect after the server vanished")
        log = open(gapd_log, errors="replace").read()
        if code == 0:
            raise TestFailure("gapd --no-reconnect exited 0 although the server closed without EXIT")
        if "without EXIT" not in log:
            raise TestFailure("gapd --no-reconnect did not say that the server closed without EXIT")
        print("  tcp   --no-reconnect: server closed without EXIT -> gapd exit %d: %s"
              % (code, [l for l in log.splitlines() if "error" in l][-1].strip()))
    except BaseException:
        sys.stderr.write("---- gapd (tcp, no EXIT) log tail ----\n" + common.tail(gapd_log))
        raise
    finally:
        if calc is not None:
            close_without_exit(calc)
        common.kill_process(proc)


def run_checks(args, workdir):
    print("ASE %s: Bohr = %.13g Å, Hartree = %.14g eV; gapd (CODATA 2018): Bohr = %.12g Å, "
          "Hartree = %.14g eV" % (ase.__version__, ase.units.Bohr, ase.units.Ha, common.BOHR_2018,
                                  common.HARTREE_2018))
    symbols, structures = make_structures()
    common.write_extxyz(os.path.join(workdir, "template.extxyz"),
                        [{"symbols": symbols, "cell": structures[0][1], "positions": structures[0][2]}])
    expected = Expected(args.gapd, args.model, workdir, symbols, structures)
    worst = {"e": 0.0, "f": 0.0, "s": 0.0}
    scenario_unix(args, workdir, symbols, structures, expected, worst)
    scenario_tcp(args, workdir, symbols, structures, expected, worst)
    scenario_tcp_noexit(args, workdir, symbols, structures, expected, worst)
    check_extras()
    naive = max(abs(a["energy"] - b["energy"]) / abs(b["energy"])
                for a, b in zip(expected.results, expected.naive))
    naive_f = max(float(np.max(np.abs(a["forces"] - b["forces"])))
                  for a, b in zip(expected.results, expected.naive))
    print("  (without the CODATA 2014/2018 bookkeeping the energies would differ by up to %.1e relative, "
          "forces by %.1e eV/Å)" % (naive, naive_f))
    return ("%d structures x (unix + tcp) + reconnect + no-EXIT; worst |dE|/|E| %.1e, max|dF| %.1e eV/Å, "
            "max|dS| %.1e eV/Å^3" % (len(structures), worst["e"], worst["f"], worst["s"]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gapd", required=True, help="gapd executable")
    parser.add_argument("--model", default=os.path.join(common.SOURCE_DIR, "tests", "data", "librascal",
                                                        "model_small_zeta2_exact.json"))
    parser.add_argument("--workdir", help="keep files here (default: a temporary directory, removed on success)")
    parser.add_argument("--timeout", type=float, default=240, help="global watchdog, seconds (default 240)")
    parser.add_argument("--patch-ase", action="store_true",
                        help="patch ASE 3.22's handling of extras longer than one byte (see the source); by default "
                             "ASE runs unmodified, which gapd's one-space extras for a pure GAP must survive")
    args = parser.parse_args()
    if args.patch_ase:
        patch_ase_extras()
    args.gapd = os.path.abspath(args.gapd)
    return common.run_test("test_ase_socketio", args.timeout, lambda workdir: run_checks(args, workdir),
                           workdir=args.workdir)


if __name__ == "__main__":
    sys.exit(main())
