"""`vtr-perception build-engine`: build the TensorRT engine for this GPU once (onnx_export.build_engine).

onnx_export is installed beside vtr_perception (setup.py); it is imported only when the command
runs, as the CLI imports every command lazily.
"""

from __future__ import annotations

import argparse
from types import ModuleType


def _script() -> ModuleType:
    from onnx_export import build_engine

    return build_engine


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _script().add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    return _script().run(args)
