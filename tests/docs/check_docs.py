#!/usr/bin/env python3
"""The docs speak of the product as it is: every `gapd` command in README.md, docs/ and the ipi_inputs READMEs
uses a command and options the current CLI has (and its required options), and every repository path they name
exists.

    /usr/bin/python3 tests/docs/check_docs.py --gapd build/gapd

Commands are taken from fenced code blocks and from `inline code` that starts with `gapd ` or `build/gapd `.
Options are checked against `gapd COMMAND --help`. Paths: words that start with a top-level folder of the
repository (docs/, scripts/, data/, ...) in code or links; paths under build/ and placeholders (`...`, `<x>`,
`$VAR`, `*`) are skipped, because a build or the reader makes them.
"""
import argparse
import glob
import os
import re
import shlex
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOP = ("docs/", "scripts/", "data/", "tests/", "models/", "server/", "client_protocol/", "ipi_inputs/", "fuzz/",
       ".ci/")


def doc_files():
    files = [os.path.join(REPO, "README.md")] + sorted(glob.glob(os.path.join(REPO, "docs", "*.md")))
    files += sorted(glob.glob(os.path.join(REPO, "ipi_inputs", "*", "README.md")))
    files += sorted(glob.glob(os.path.join(REPO, "ipi_inputs", "README.md")))
    files += [os.path.join(REPO, "data", "models", "MODEL_CARD.md"), os.path.join(REPO, "data", "README.md")]
    return [f for f in files if os.path.exists(f)]


def help_of(gapd, command, cache={}):
    if command not in cache:
        r = subprocess.run([gapd, command, "--help"], capture_output=True, text=True)
        if r.returncode != 0:
            cache[command] = None
        else:
            positionals, options, required = set(), set(), set()
            section = None
            for line in r.stdout.splitlines():
                if line.startswith("Positionals:"):
                    section = "pos"
                elif line.startswith("Options:"):
                    section = "opt"
                elif section == "pos" and line.startswith("  ") and line.strip():
                    positionals.add(line.split()[0])
                elif section == "opt" and re.match(r"^  -", line):
                    names = line.split()[0].split(",")
                    options.update(names)
                    if "REQUIRED" in line and not any(n.lstrip("-") in positionals for n in names):
                        required.add(tuple(names))
            cache[command] = (options, required)
    return cache[command]


def commands_in(text):
    """(line number, command string, from a code block) for every gapd invocation in code."""
    out = []
    in_block = False
    block_lines = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            in_block = not in_block
            continue
        if in_block:
            block_lines.append((number, line))
        else:
            for code in re.findall(r"`([^`]+)`", line):
                if re.match(r"^(\S*/)?gapd\s+[a-z]", code):
                    out.append((number, code, False))
    # Join continuation lines of code blocks.
    joined, start, current = [], None, ""
    for number, line in block_lines:
        if start is None:
            start = number
        current += " " + line.rstrip().rstrip("\\")
        if not line.rstrip().endswith("\\"):
            joined.append((start, current.strip()))
            start, current = None, ""
    for number, line in joined:
        for part in re.split(r"\s*(?:&&|\|\||;|\|)\s*", line.split(" #")[0]):
            if re.match(r"^(\S*/)?gapd\s+[a-z]", part.strip()) or re.search(r"(^|\s)(\S*/)?gapd\s+[a-z]", part):
                m = re.search(r"(\S*/)?gapd\s+[a-z].*", part)
                out.append((number, m.group(0), True))
    return out


def check_command(gapd, command_text, complete):
    """complete: a command to copy and run (code block), not a mention in prose (`gapd serve --threads`)."""
    try:
        words = shlex.split(command_text, comments=False)
    except ValueError:
        words = command_text.split()
    words = [w for w in words if w not in (">", "2>&1", "&")]
    if "..." in words or any(w.startswith("<") or w.startswith("[") for w in words[1:2]):
        return []
    command = words[1]
    if command in ("-h", "--help", "--version"):
        return []
    info = help_of(gapd, command)
    if info is None:
        return [f"'gapd {command}': no such command"]
    options, required = info
    problems = []
    given = set()
    for w in words[2:]:
        if w.startswith(">"):
            break
        if w.startswith("-") and len(w) > 1 and not re.match(r"^-\d", w):
            name = w.split("=")[0]
            if name not in options:
                problems.append(f"'gapd {command}': unknown option {name}")
            given.add(name)
    if complete and "--config" not in given and "--help" not in given and "-h" not in given and "..." not in command_text:
        for names in required:
            if not given.intersection(names):
                problems.append(f"'gapd {command}': missing required {'/'.join(names)}")
    return problems


PATH_RE = re.compile(r"(?<![\w./-])((?:" + "|".join(re.escape(t) for t in TOP) + r")[\w./+-]*)")


def paths_in(text):
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        for m in PATH_RE.finditer(line):
            path = m.group(1).rstrip(".,:;)")
            if any(c in path for c in "*$<>{}") or "..." in path or path.endswith("/."):
                continue
            out.append((number, path))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gapd", required=True)
    args = ap.parse_args()
    failures = []
    ncommands = npaths = 0
    for f in doc_files():
        text = open(f, encoding="utf-8").read()
        rel = os.path.relpath(f, REPO)
        for number, command, complete in commands_in(text):
            ncommands += 1
            for p in check_command(args.gapd, command, complete):
                failures.append(f"{rel}:{number}: {p}   [{command[:100]}]")
        for number, path in paths_in(text):
            npaths += 1
            candidates = [os.path.join(REPO, path), os.path.join(os.path.dirname(f), path)]
            if not any(os.path.exists(c) or glob.glob(c + "*") for c in candidates):
                failures.append(f"{rel}:{number}: names {path}, which does not exist")
    for line in failures:
        print(line)
    print(f"check_docs: {ncommands} gapd commands and {npaths} repository paths in {len(doc_files())} files; "
          f"{len(failures)} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
