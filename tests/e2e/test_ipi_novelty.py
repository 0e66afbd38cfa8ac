#!/usr/bin/python3
"""End-to-end with a real i-PI ($IPI_ROOT, v3.3.0): `gapd serve --novelty` and i-PI's
<trajectory extra_type='gap_novelty'> extras </trajectory>.

The 40-atom NVT input of ipi_inputs/dipole, shortened, saving the extras key gap_novelty and the positions (format
'bin', full precision) every step: i-PI accepts the key and writes one value per atom per step, and these equal
`gapd predict --novelty` on the positions and cell i-PI saved at the same step. Both exits are 0.

Without i-PI (IPI_ROOT, or an i-pi on PATH): prints a skip message and exits 77.
"""

import os
import re
import shutil
import sys

import numpy as np

import e2e_common as common
from e2e_common import TestFailure
from test_ipi_dipole import read_extras_dipoles as read_extras, read_ipi_bin

RECIPE = os.path.join(common.SOURCE_DIR, "ipi_inputs", "dipole")


def body(args, gapd, workdir):
    address = "gapd-e2e-novelty-%d" % os.getpid()
    text = open(os.path.join(RECIPE, "input.xml")).read()
    text = re.sub(r"<trajectory filename='dipole'.*?</trajectory>",
                  "<trajectory filename='novelty' stride='1' extra_type='gap_novelty'> extras </trajectory>", text)
    text = re.sub(r"<trajectory filename='cell_dipoles'.*?</trajectory>", "", text)
    text = re.sub(r"<total_steps>\s*\d+\s*</total_steps>", "<total_steps> %d </total_steps>" % args.steps, text)
    text = text.replace("<address> gapd-dipole </address>", "<address> %s </address>" % address)
    if "gap_novelty" not in text or address not in text:
        raise TestFailure("ipi_inputs/dipole/input.xml changed: the test cannot rewrite it")
    with open(os.path.join(workdir, "input.xml"), "w") as f:
        f.write(text)
    shutil.copy(os.path.join(RECIPE, "init.xyz"), workdir)

    root = common.ipi_root_or_none()
    ipi_cmd = [sys.executable, os.path.join(root, "bin", "i-pi"), "input.xml"] if root else ["i-pi", "input.xml"]
    env = dict(os.environ)
    if root:
        env["PYTHONPATH"] = root + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    ipi = common.start_process(ipi_cmd, os.path.join(workdir, "ipi.log"), cwd=workdir, env=env)
    served = common.start_process([gapd, "serve", "-u", "-a", address, "-m", common.SMALL_MODEL, "-t",
                                   os.path.join(workdir, "init.xyz"), "--novelty", "--threads", "1",
                                   "--connect-timeout", "60"], os.path.join(workdir, "gapd.log"))
    try:
        ipi_code = common.wait_process(ipi, args.timeout * 0.7, "i-PI")
        gapd_code = common.wait_process(served, 30, "gapd serve after i-PI finished")
    finally:
        common.kill_process(ipi)
        common.kill_process(served)
    if ipi_code != 0 or gapd_code != 0:
        raise TestFailure("i-PI exited %d, gapd %d:\n%s\n%s" % (ipi_code, gapd_code,
                                                               common.tail(os.path.join(workdir, "ipi.log")),
                                                               common.tail(os.path.join(workdir, "gapd.log"))))
    steps, novelty = read_extras(os.path.join(workdir, "dipole.novelty_0"))
    symbols = common.template_symbols(os.path.join(workdir, "init.xyz"))
    if steps != list(range(args.steps + 1)) or novelty.shape != (len(steps), len(symbols)):
        raise TestFailure("novelty trajectory: steps %s, shape %s" % (steps, novelty.shape))
    frames = read_ipi_bin(os.path.join(workdir, "dipole.pos_0.bin"), len(steps), symbols)
    predicted = common.predict_frames(gapd, workdir, "ipi_frames", frames, ["-m", common.SMALL_MODEL, "--novelty"])
    expected = np.array([np.asarray(f["arrays"]["gap_novelty"], float).ravel() for f in predicted])
    err = common.check_close(novelty, expected, "i-PI's gap_novelty trajectory against gapd predict", 1e-9)
    print("i-PI saved gap_novelty for %d steps x %d atoms (max %.2g); equal to gapd predict --novelty "
          "(max relative %.2g)" % (len(steps), len(symbols), novelty.max(), err))


if __name__ == "__main__":
    sys.exit(common.ipi_input_test_main("test_ipi_novelty", __doc__.split("\n")[0], body, steps=10, timeout=300))
