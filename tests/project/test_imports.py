"""The architecture as the imports show it: layers point one way, control's rooms form no
cycle, and docs/architecture.md's room table is the truth.

Written over ``ast`` rather than with import-linter: import-linter (grimp) finds a package's
modules by walking the directory of its root package, and our wheel maps top-level
directories (engine/, control/, ...) under ``uqo``, so it would see only ``src/uqo``.

Every import statement counts, including those inside functions (a lazy import is still a
dependency), except those under ``if TYPE_CHECKING:`` (annotations only).
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAPPED = {"uqo": "src/uqo", "uqo.engine": "engine", "uqo.kernels": "kernels",
          "uqo.control": "control", "uqo.security": "security", "uqo.bench": "bench"}
LAYERS = {   # package -> packages of uqo it must never import
    "uqo.kernels": ("uqo.engine", "uqo.control", "uqo.security", "uqo.bench", "uqo.cli"),
    "uqo.engine": ("uqo.control", "uqo.security", "uqo.bench", "uqo.cli"),
    "uqo.security": ("uqo.control", "uqo.engine", "uqo.kernels", "uqo.bench", "uqo.cli"),
    "uqo.control": ("uqo.bench", "uqo.cli"),
}


def _modules() -> dict[str, Path]:
    """Module name -> file, for every module of the product."""
    out: dict[str, Path] = {}
    for pkg, src in MAPPED.items():
        base = ROOT / src
        for path in base.rglob("*.py"):
            rel = path.relative_to(base).with_suffix("")
            if "__pycache__" in rel.parts:
                continue
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join([pkg, *parts])
            if any(other != pkg and other.startswith(pkg + ".") and name.startswith(other)
                   and (ROOT / MAPPED[other]) not in path.parents for other in MAPPED):
                continue
            out[name] = path
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _resolve(name: str) -> str | None:
    """The longest product module that ``name`` is or lies in (``a.b.C`` -> ``a.b``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> set[str]:
    tree = ast.parse(MODULES[module].read_text())
    skip = _type_checking_lines(tree)
    package = module if _is_package(module) else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # ``from pkg import mod`` imports the module; ``from mod import name`` the module
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                       for a in node.names]
        else:
            continue
        for target in targets:
            if target.startswith("uqo"):
                resolved = _resolve(target)
                if resolved and resolved != module:
                    found.add(resolved)
    return found


GRAPH = {m: imports_of(m) for m in MODULES}


def _room(module: str) -> str | None:
    """``uqo.control.leader.core`` -> ``leader`` (control's leaf modules are rooms of their
    own); outside control, the top package (``engine``, ``security``, ``fsutil``, ...)."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] == "control":
        return parts[2] if len(parts) > 2 else None
    return parts[1] if len(parts) > 1 else None


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def documented_rooms() -> dict[str, set[str]]:
    """docs/architecture.md's table ``| room | imports |``: what each room may import."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    table = text.split("<!-- rooms -->")[1].split("<!-- /rooms -->")[0]
    rooms = {}
    for line in table.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not re.fullmatch(r"[a-z_]+", cells[0]) or cells[0] == "room":
            continue
        rooms[cells[0]] = {c.strip().strip("`") for c in cells[1].split(",")
                           if c.strip() not in ("", "—", "-")}
    return rooms


def room_graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for module, targets in GRAPH.items():
        src = _room(module)
        if src is None or not module.startswith("uqo.control."):
            continue
        edges[src]
        for target in targets:
            dst = _room(target)
            if dst is not None and dst != src:
                edges[src].add(dst)
    return dict(edges)


def test_layers_point_one_way():
    bad = []
    for module, targets in GRAPH.items():
        for layer, forbidden in LAYERS.items():
            if module == layer or module.startswith(layer + "."):
                bad += [f"{module} -> {t}" for t in targets
                        if any(t == f or t.startswith(f + ".") for f in forbidden)]
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_no_module_in_control_imports_one_that_imports_it_back():
    control = {m: {t for t in ts if t.startswith("uqo.control")}
               for m, ts in GRAPH.items() if m.startswith("uqo.control")}
    assert not _cycles(control), _cycles(control)


def test_rooms_form_no_cycle():
    assert not _cycles(room_graph()), _cycles(room_graph())


def test_docs_architecture_names_every_room_and_its_imports():
    documented, actual = documented_rooms(), room_graph()
    assert set(documented) == set(actual), (sorted(documented), sorted(actual))
    for room, targets in actual.items():
        undeclared = targets - documented[room]
        assert not undeclared, f"{room} imports {sorted(undeclared)}, not in docs/architecture.md"
        unused = documented[room] - targets
        assert not unused, f"docs/architecture.md says {room} imports {sorted(unused)}; it does not"


def test_the_checker_sees_a_cycle_and_a_layer_breach():
    """The checks can fail: a planted cycle and an upward import are found."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert imports_of("uqo.control.leader.core") >= {"uqo.control.state.commands",
                                                     "uqo.control.state.machine"}
    assert "uqo.control.leader.service" not in imports_of("uqo.control.leader.status")
