"""`vtr-perception export`: export a checkpoint to ONNX with the parity check (onnx_export.export).

onnx_export is installed beside vtr_perception (setup.py); it is imported only when the command
runs, as it needs torch (the `train` extra) and the CLI's other commands do not.
"""

from __future__ import annotations

import argparse
from types import ModuleType


def _script() -> ModuleType:
    from onnx_export import export

    return export


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _script().add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    return _script().run(args)
