"""No function in the package, the export scripts or the benchmarks runs over 80 lines (STYLE.md): a long one is
split into named steps, as nerfstudio's Trainer.train."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 80


def long_functions(paths: list[Path], limit: int = MAX_LINES) -> list[str]:
    found = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > limit:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_a_long_function_is_found(tmp_path):
    path = ROOT / "tests" / "test_function_size.py"
    assert long_functions([path], limit=5) and not long_functions([path], limit=1000)


def test_no_function_is_over_80_lines():
    paths = [
        p for folder in ("vtr_perception", "onnx_export", "benchmarks") for p in sorted((ROOT / folder).rglob("*.py"))
    ]
    assert long_functions(paths) == []
