"""Print the import graph between tapeworks' top-level parts, and any import cycles.

    python scripts/import_graph.py            # edges between parts (function-level imports included)
    python scripts/import_graph.py --modules  # cycles between modules

Uses grimp (import-linter's graph library); run with the project's virtualenv.
"""

from __future__ import annotations

import sys
from collections import defaultdict

import grimp


def part(module: str) -> str:
    pieces = module.split(".")
    return ".".join(pieces[:2])


def strongly_connected(nodes: set[str], edges: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def main() -> None:
    graph = grimp.build_graph("tapeworks", exclude_type_checking_imports=True)
    modules = set(graph.modules)
    mod_edges: dict[str, set[str]] = defaultdict(set)
    part_edges: dict[str, set[str]] = defaultdict(set)
    for m in modules:
        for imported in graph.find_modules_directly_imported_by(m):
            if imported.startswith("tapeworks"):
                mod_edges[m].add(imported)
                a, b = part(m), part(imported)
                if a != b:
                    part_edges[a].add(b)
    if "--modules" in sys.argv:
        cycles = strongly_connected(modules, mod_edges)
    else:
        for a in sorted(part_edges):
            print(f"{a} -> {', '.join(sorted(part_edges[a]))}")
        cycles = strongly_connected(set(part_edges), part_edges)
    print()
    print(f"{len(cycles)} import cycle(s)")
    for c in cycles:
        print("  " + " <-> ".join(c))


if __name__ == "__main__":
    main()
