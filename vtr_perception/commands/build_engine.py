"""`vtr-perception build-engine`: build the TensorRT engine for this GPU once (onnx_export/build_engine.py).

onnx_export/ is a top-level folder of the source checkout, not part of the installed
package; this command finds it beside the package (source checkout or editable install).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from types import ModuleType


def _script() -> ModuleType:
    try:
        return importlib.import_module("onnx_export.build_engine")
    except ModuleNotFoundError:
        root = Path(__file__).resolve().parents[2]
        if not (root / "onnx_export" / "build_engine.py").is_file():
            raise ValueError("this command needs the source checkout (onnx_export/ is not installed)") from None
        sys.path.insert(0, str(root))
        return importlib.import_module("onnx_export.build_engine")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _script().add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    return _script().run(args)
