"""Build (once) the TensorRT engine of the exported reconstructor for this GPU and TensorRT version.

    python -m onnx_export.build_engine --onnx models/reconstructor.onnx --precision fp16
    vtr-perception build-engine --onnx models/reconstructor.onnx --precision int8 \\
        --calibration-cache models/calib.cache --calibration-data .cache/data/pybullet64

The engine lands in the engine cache (default ~/.cache/vtr_perception/engines) under a
name carrying the ONNX hash, TensorRT version, GPU and options; an existing engine for
the same target is reused, and a lock stops two processes building it at once. The
builder itself (NVIDIA's TensorRT Python API) is vtr_perception/infer/tensorrt_build.py,
inside the package because the runtime builds engines on first start too.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from vtr_perception import config as config_flags
from vtr_perception.infer.metadata import read_onnx_model_info
from vtr_perception.infer.tensorrt_build import (
    EngineBuildError,
    EngineBuildOptions,
    TensorRTUnavailable,
    build_engine,
)

log = logging.getLogger(__name__)


def calibration_batches(
    cache_dir: str | Path, onnx_path: str | Path, *, batches: int, batch_size: int, num_views: int
) -> Iterator[dict[str, np.ndarray]]:
    """INT8 calibration inputs: training-split objects of a rendered-view cache, as the model sees them."""
    from vtr_perception.data.dataset import ViewDataset

    info = read_onnx_model_info(onnx_path)
    dataset = ViewDataset(cache_dir, split="train", view_set="aligned", num_views=num_views, fixed=True)
    if len(dataset) < batches * batch_size:
        raise ValueError(f"{cache_dir}: {len(dataset)} training objects, calibration needs {batches * batch_size}")
    for b in range(batches):
        items = [dataset[b * batch_size + i] for i in range(batch_size)]
        images = np.stack([it["images"].numpy() for it in items])
        if images.shape[-1] != info.image_size:
            raise ValueError(f"{cache_dir}: images are {images.shape[-1]} px, the model takes {info.image_size}")
        yield {"images": images, "rotations": np.stack([it["rotations"].numpy() for it in items])}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--onnx", default="models/reconstructor.onnx", help="exported reconstructor")
    parser.add_argument("--cache-dir", default=None, help="engine cache (default ~/.cache/vtr_perception/engines)")
    parser.add_argument("--calibration-data", default=None, help="INT8: rendered-view cache to calibrate on")
    parser.add_argument("--calibration-batches", type=int, default=16, help="INT8: batches to calibrate on")
    config_flags.add_arguments(parser, EngineBuildOptions)


def run(args: argparse.Namespace) -> int:
    options = config_flags.from_args(EngineBuildOptions, args)
    batches = None
    if options.precision == "int8" and args.calibration_data:
        batches = calibration_batches(
            args.calibration_data,
            args.onnx,
            batches=args.calibration_batches,
            batch_size=options.opt_batch,
            num_views=options.opt_views,
        )
    try:
        path = build_engine(args.onnx, options, cache_dir=args.cache_dir, calibration_batches=batches)
    except (TensorRTUnavailable, EngineBuildError) as exc:
        raise ValueError(str(exc)) from None  # a one-line user error in both CLIs
    print(f"engine: {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return run(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"build_engine: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
