"""Helpers shared by the benchmark scripts: run metadata and result files.

Every result JSON records the machine, the command, the git commit and the time it ran,
so results can be compared across commits (see ../shared/DESIGN.md, "Result files").
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from vtr_perception.io_utils import atomic_write_json

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "benchmarks" / "results"


def git_commit() -> str:
    """The checkout's HEAD commit (with '+dirty' when tracked files changed), or 'unknown'."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def run_metadata(command: str | None = None) -> dict[str, Any]:
    """Machine, command, commit and time of this run."""
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    return {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch_version,
        },
        "command": command if command is not None else " ".join([Path(sys.executable).name] + sys.argv),
        "git_commit": git_commit(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_result(name: str, payload: dict[str, Any], *, path: str | Path | None = None) -> Path:
    """Write ``payload`` plus run metadata to benchmarks/results/<name>.json (or ``path``), atomically."""
    out = Path(path) if path is not None else RESULTS_DIR / f"{name}.json"
    return atomic_write_json(out, {**payload, "meta": run_metadata()})
