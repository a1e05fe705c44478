"""Where shipped models and built TensorRT engines live, so callers need no path arguments.

Model directory, first that exists:
  1. ``$VTR_PERCEPTION_MODEL_DIR``
  2. the source checkout's ``models/`` (this file is ``<repo>/vtr_perception/infer/paths.py``)
  3. the installed ``share/vtr_perception/models`` (ament index when importable, else ``sys.prefix``)

Engine cache: ``$VTR_PERCEPTION_ENGINE_CACHE`` or ``~/.cache/vtr_perception/engines``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE = "vtr_perception"
ONNX_NAME = "reconstructor.onnx"
CHECKPOINT_NAME = "reconstructor.pt"


def _installed_share_dir() -> Path | None:
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    except ImportError:
        pass
    else:
        try:
            return Path(get_package_share_directory(PACKAGE)) / "models"
        except (PackageNotFoundError, ValueError, LookupError, OSError):  # OSError: AMENT_PREFIX_PATH unset
            pass
    return Path(sys.prefix) / "share" / PACKAGE / "models"


def candidate_model_dirs() -> list[Path]:
    """Every place a model directory is looked for, in order of preference."""
    dirs = []
    if os.environ.get("VTR_PERCEPTION_MODEL_DIR"):
        dirs.append(Path(os.environ["VTR_PERCEPTION_MODEL_DIR"]).expanduser())
    dirs.append(Path(__file__).resolve().parents[2] / "models")
    share = _installed_share_dir()
    if share is not None:
        dirs.append(share)
    return dirs


def default_model_dir() -> Path:
    """The first candidate directory holding a reconstructor (ONNX or checkpoint); else the first that exists."""
    candidates = candidate_model_dirs()
    for d in candidates:
        if (d / ONNX_NAME).is_file() or (d / CHECKPOINT_NAME).is_file():
            return d
    for d in candidates:
        if d.is_dir():
            return d
    raise FileNotFoundError(
        "no vtr_perception model directory found; looked in " + ", ".join(str(d) for d in candidates)
    )


def default_engine_cache_dir() -> Path:
    env = os.environ.get("VTR_PERCEPTION_ENGINE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / PACKAGE / "engines"
