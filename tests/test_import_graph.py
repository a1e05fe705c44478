"""The package's import graph: no circles among its modules, and the layers' rules (docs/architecture.md).

Every import counts, also one inside a function: a lazy import still ties the two modules together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("vtr_perception", "onnx_export")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def imported_names(path: Path, name: str) -> set[str]:
    """Every absolute module name ``path`` imports, with ``from x import y`` giving x.y where y is a module."""
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)
    return out


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: {m for m in imported_names(path, name) if m in mods and m != name} for name, path in mods.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_circle_and_nothing_else():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_relative_imports_resolve_to_package_modules(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "mod.py").write_text("from . import other\nfrom .sub import thing\n")
    assert imported_names(pkg / "mod.py", "pkg.mod") >= {"pkg.other", "pkg.sub", "pkg.sub.thing"}


def test_no_module_imports_itself_back_through_others():
    assert cycles(import_graph()) == []


def _importers(prefix: str) -> set[str]:
    return {
        name for name, deps in import_graph().items() if any(d == prefix or d.startswith(prefix + ".") for d in deps)
    }


def _all_imports() -> dict[str, set[str]]:
    return {name: imported_names(path, name) for name, path in modules().items()}


@pytest.mark.parametrize("foreign", ["rclpy", "geometry_msgs", "sensor_msgs", "std_msgs", "visualization_msgs"])
def test_only_the_ros_layer_imports_ros(foreign):
    users = {n for n, deps in _all_imports().items() if any(d.split(".")[0] == foreign for d in deps)}
    assert all(n.startswith("vtr_perception.ros") for n in users), sorted(users)


def test_simulation_and_core_layers_never_import_ros_or_training():
    lower = ("geometry", "data", "models", "infer", "perception", "nbv", "sim")
    for layer in lower:
        for name, deps in import_graph().items():
            if name.startswith(f"vtr_perception.{layer}"):
                bad = {d for d in deps if d.startswith(("vtr_perception.ros", "vtr_perception.train"))}
                assert not bad, f"{name} imports {sorted(bad)}"


def test_only_commands_import_training():
    users = {n for n in _importers("vtr_perception.train") if not n.startswith("vtr_perception.train")}
    assert all(n.startswith("vtr_perception.commands") for n in users), sorted(users)
