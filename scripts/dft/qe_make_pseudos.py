#!/usr/bin/python3
"""Generate the PBEsol PAW data sets for Quantum ESPRESSO with its own ld1.x, from the pslibrary 1.0.0 inputs kept
in data/qe_pslibrary_pbesol/ (see the README there), into OUTDIR.

    /usr/bin/python3 scripts/dft/qe_make_pseudos.py OUTDIR

Debian's QE 6.7 ld1.x writes some UPF matrices (PP_DIJ, PP_Q, PAW blocks) as one line of up to ~6000 characters,
which its own pw.x then refuses to read ("xmlr_opentag: severe error, line too long"); every purely numeric line
longer than 200 characters is therefore re-wrapped at 4 numbers per line (same numbers, same order).
"""
import glob
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def is_number(token):
    try:
        float(token)
        return True
    except ValueError:
        return False


def rewrap(path):
    changed = 0
    out = []
    with open(path) as f:
        for line in f:
            tokens = line.split()
            if len(line) > 200 and tokens and all(is_number(t) for t in tokens):
                out += ["  " + "  ".join(tokens[i:i + 4]) + "\n" for i in range(0, len(tokens), 4)]
                changed += 1
            else:
                out.append(line)
    with open(path, "w") as f:
        f.writelines(out)
    return changed


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    outdir = os.path.abspath(sys.argv[1])
    os.makedirs(outdir, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    for deck in sorted(glob.glob(os.path.join(REPO, "data", "qe_pslibrary_pbesol", "*.in"))):
        name = os.path.basename(deck)[:-3]
        with open(deck) as fin, open(os.path.join(outdir, name + ".out"), "w") as fout:
            subprocess.run(["ld1.x"], stdin=fin, stdout=fout, stderr=subprocess.STDOUT, cwd=outdir, env=env,
                           check=True)
        upf = os.path.join(outdir, name + ".UPF")
        print(f"{upf}: {rewrap(upf)} long lines re-wrapped")


if __name__ == "__main__":
    main()
