#!/usr/bin/python3
"""The architecture as a test: every C++ source lives in a concept folder, includes only point down the layers,
and no header include cycle exists.

    /usr/bin/python3 tests/layering/check_layers.py [REPO_ROOT]

Layers, lowest first (README "Layout"): a file may include headers of its own folder and of lower layers only.
gap/ and dipoles/ share a layer and stay independent of each other. Exit 0 = clean; otherwise one line per
violation ("FILE:LINE includes HEADER (layer A may not use layer B)") and exit 1.
"""
import os
import re
import sys

LAYERS = [
    ("models/core", 0),
    ("models/descriptors", 1),
    ("models/gap", 2),
    ("models/dipoles", 2),
    ("models/formats", 3),
    ("models/fit", 4),
    ("client_protocol", 5),
    ("server/serve", 6),
    ("server/cli", 7),
    ("api", 8),
    ("python", 9),
]
SOURCE_ROOTS = ("models", "client_protocol", "server", "api", "python")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def folder_of(path):
    for folder, _ in LAYERS:
        if path.startswith(folder + "/") and "/" not in path[len(folder) + 1:]:
            return folder
    return None


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))
    rank = dict(LAYERS)
    problems = []
    graph = {}
    for top in SOURCE_ROOTS:
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in sorted(files):
                if not name.endswith((".hpp", ".cpp")):
                    continue
                path = os.path.relpath(os.path.join(dirpath, name), root)
                folder = folder_of(path)
                if folder is None:
                    problems.append(f"{path}: not in a concept folder ({', '.join(f for f, _ in LAYERS)})")
                    continue
                graph[path] = []
                with open(os.path.join(root, path), encoding="utf-8") as f:
                    for line_no, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        header = m.group(1)
                        target = folder_of(header)
                        if target is None:
                            if header.startswith(SOURCE_ROOTS):
                                problems.append(f"{path}:{line_no} includes {header}, which is in no concept folder")
                            continue
                        graph[path].append(header)
                        if target != folder and rank[target] >= rank[folder]:
                            problems.append(f"{path}:{line_no} includes {header} (layer {folder} may not use "
                                            f"{target})")
    # Include cycles between headers (a .cpp is never included).
    state = {}

    def visit(node, stack):
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                problems.append("include cycle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    for p in problems:
        print(p)
    print(f"check_layers: {len(graph)} files, {sum(map(len, graph.values()))} project includes, "
          f"{len(problems)} violation(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
