#!/usr/bin/python3
"""The docs of the i-PI recipes say what the code does (no i-PI needed).

Files: ipi_inputs/*/README.md, ipi_inputs/*/input*.xml, docs/ipi.md, docs/analysis.md, docs/own_system.md.
  1. every model path a command passes (`--model`, `-m`, `--dipole-model`, `GAPD_MODEL=`, `DIPOLE_MODEL=`, a
     run.sh argument) under data/, tests/ or build/ exists in the source tree, or is a file run.sh fits itself;
     a plain build makes only build/gapd;
  2. every `gapd predict` command has the required -o/--output;
  3. the exit codes docs/ipi.md lists for `gapd serve` are the codes gapd returns (run here: a missing model
     file, a missing template file, an unknown option, no i-PI within --connect-timeout);
  4. no development-process language ("session", "the lead", "the task asked", "closing notes", "the issue
     notes");
  5. the dipole recipe's text matches what its input saves (no "saves neither", no synthetic default models).
"""

import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.abspath(os.path.join(HERE, "..", ".."))
FITTED_BY_RUN_SH = {"build/batio3_seed.gapd", "build/batio3_seed_cheap.gapd"}  # only when absent; documented
DEV_WORDS = ["session", "the lead", "the task asked", "task asked for", "closing notes", "the issue notes"]


class Failure(Exception):
    pass


def doc_files():
    files = sorted(glob.glob(os.path.join(SOURCE_DIR, "ipi_inputs", "*", "README.md")))
    files += sorted(glob.glob(os.path.join(SOURCE_DIR, "ipi_inputs", "*", "input*.xml")))
    files += [os.path.join(SOURCE_DIR, "docs", f) for f in ("ipi.md", "analysis.md", "own_system.md")]
    return files


def rel(path):
    return os.path.relpath(path, SOURCE_DIR)


def command_lines(text):
    """Lines of fenced code blocks, and the contents of inline `code` spans."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            lines.append(line)
        else:
            lines += re.findall(r"`([^`]+)`", line)
    return lines


def check_model_paths(texts):
    bad = []
    pat = re.compile(r"(?:--model|-m|--dipole-model|GAPD_MODEL=|DIPOLE_MODEL=|CHEAP_MODEL=|run\.sh)[ =]+"
                     r"((?:data|tests|build)/[\w./-]+\.(?:gapd|json|json\.gz))")
    for path, text in texts.items():
        for line in command_lines(text):
            for model in pat.findall(line):
                if model.startswith("build/"):
                    if model not in FITTED_BY_RUN_SH or "--model" in line or "-m " in line:
                        bad.append("%s: %s (a build does not produce it)" % (rel(path), line.strip()))
                elif not os.path.exists(os.path.join(SOURCE_DIR, model)):
                    bad.append("%s: %s (no such file)" % (rel(path), line.strip()))
    if bad:
        raise Failure("model paths that do not exist:\n  " + "\n  ".join(bad))
    print("1. model paths in commands exist")


def check_predict_output(texts):
    bad = []
    for path, text in texts.items():
        for line in command_lines(text):
            for m in re.finditer(r"gapd predict\b(.*)", line):
                args = m.group(1)
                if re.search(r"\S", args) and not re.search(r"(^|\s)(-o|--output)(\s|=)", args) \
                        and not args.strip().startswith(("'s", "on ", "to ", "(")):
                    bad.append("%s: %s" % (rel(path), line.strip()))
    if bad:
        raise Failure("gapd predict without -o:\n  " + "\n  ".join(bad))
    print("2. every gapd predict command has -o")


def exit_code_doc(text):
    """{code or '100+': text of its bullet} from docs/ipi.md's 'Exit codes of `gapd serve`' list."""
    start = text.find("Exit codes of `gapd serve`")
    if start < 0:
        raise Failure("docs/ipi.md has no 'Exit codes of `gapd serve`' list")
    bullets, current = {}, None
    for line in text[start:].splitlines()[1:]:
        m = re.match(r"- `(\d+)`( and above)?: (.*)", line)
        if m:
            current = "100+" if m.group(2) else int(m.group(1))
            bullets[current] = m.group(3)
        elif current is not None and line.startswith("  "):
            bullets[current] += " " + line.strip()
        else:
            break
    return bullets


def check_exit_codes(gapd):
    text = open(os.path.join(SOURCE_DIR, "docs", "ipi.md")).read()
    bullets = exit_code_doc(text)
    model = os.path.join(SOURCE_DIR, "tests", "data", "librascal", "model_small_zeta2_exact.json")
    template = os.path.join(SOURCE_DIR, "ipi_inputs", "dipole", "init.xyz")
    base = [gapd, "serve", "-u", "-a", "docs-test-%d" % os.getpid(), "--connect-timeout", "0.2"]
    cases = [  # (what, arguments, words the bullet of the returned code must contain)
        ("missing model file", ["-m", "/nonexistent/model.gapd", "-t", template], ["model", "does not exist"]),
        ("missing template file", ["-m", model, "-t", "/nonexistent/init.xyz"], ["template", "does not exist"]),
        ("unknown option", ["-m", model, "-t", template, "--no-such-option"], ["unknown option"]),
        ("no i-PI", ["-m", model, "-t", template], ["--connect-timeout"]),
    ]
    seen = []
    for what, args, words in cases:
        rc = subprocess.run(base + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60).returncode
        key = "100+" if rc >= 100 else rc
        if key not in bullets:
            raise Failure("%s: gapd serve exits %d, which docs/ipi.md does not list (%s)" % (what, rc, sorted(bullets, key=str)))
        for w in words:
            if w not in bullets[key]:
                raise Failure("%s: gapd serve exits %d, but docs/ipi.md's entry for %s does not mention %r: %s"
                              % (what, rc, key, w, bullets[key]))
        seen.append("%s %d" % (what, rc))
    print("3. exit codes as documented: " + ", ".join(seen))


def check_dev_words(texts):
    bad = []
    for path, text in texts.items():
        for k, line in enumerate(text.splitlines()):
            if any(re.search(r"\b%s\b" % re.escape(w), line, re.IGNORECASE) for w in DEV_WORDS):
                bad.append("%s:%d: %r" % (rel(path), k + 1, line.strip()[:100]))
    if bad:
        raise Failure("development-process language:\n  " + "\n  ".join(bad))
    print("4. no development-process language in %d files" % len(texts))


def check_dipole_text(texts):
    bad = []
    stale = ["saves neither", "Default models are SYNTHETIC", "default the SYNTHETIC", "SYNTHETIC models (not physics)",
             "default model is SYNTHETIC", "synthetic_dipole.gapd (default"]
    for path, text in texts.items():
        for s in stale:
            if s.lower() in text.lower():
                bad.append("%s: %r" % (rel(path), s))
    xml = open(os.path.join(SOURCE_DIR, "ipi_inputs", "dipole", "input.xml")).read()
    analysis = texts[os.path.join(SOURCE_DIR, "docs", "analysis.md")]
    for saved, doc in (("volume, cell_h", "volume"), ("extra_type='cell_dipoles'", "cell_dipoles")):
        if saved in xml and "dipole.%s" % ("cell_dipoles_0" if doc == "cell_dipoles" else "out") not in analysis:
            bad.append("docs/analysis.md does not use dipole/input.xml's %s output" % doc)
    if bad:
        raise Failure("dipole docs out of date:\n  " + "\n  ".join(bad))
    print("5. dipole recipe text matches its input")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gapd", required=True)
    a = p.parse_args()
    texts = {}
    for f in doc_files():
        if not os.path.exists(f):
            print("FAIL: %s does not exist" % rel(f))
            return 1
        texts[f] = open(f, encoding="utf-8").read()
    passed = failed = 0
    for check in (lambda: check_model_paths(texts), lambda: check_predict_output(texts),
                  lambda: check_exit_codes(os.path.abspath(a.gapd)), lambda: check_dev_words(texts),
                  lambda: check_dipole_text(texts)):
        try:
            check()
            passed += 1
        except Failure as e:
            failed += 1
            print("FAIL: %s" % e)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
