"""Build a TensorRT engine from the exported ONNX reconstructor with NVIDIA's Python API.

    Builder -> network (explicit batch) <- OnnxParser
    BuilderConfig: FP16 (INT8 with an entropy calibrator and its cache), workspace limit,
                   optional DLA core with GPU fallback, one optimisation profile over
                   batch 1..max_batch and view count 1..max_views for "images"/"rotations"
    build_serialized_network -> bytes

This lives in the package (not only in onnx_export/) because the runtime's `auto` backend
builds the engine on the robot on first start. Not testable without TensorRT and a GPU;
its tests are marked `tensorrt` and skip elsewhere.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np

from vtr_perception.infer.engine_cache import EngineTarget, file_sha256, get_or_build_engine
from vtr_perception.io_utils import atomic_write_bytes

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fp16", "int8")


class TensorRTUnavailable(RuntimeError):
    """TensorRT cannot be used here (not importable, no GPU); the message says why."""


class EngineBuildError(RuntimeError):
    """TensorRT rejected the ONNX model or failed to build an engine."""


@dataclass
class EngineBuildOptions:
    """TensorRT engine build options (precision, optimisation profile, workspace, DLA)."""

    precision: str = field(default="fp16", metadata={"help": "engine precision: fp32, fp16 or int8"})
    max_batch: int = field(default=4, metadata={"help": "largest batch (objects per call) the engine accepts"})
    opt_batch: int = field(default=1, metadata={"help": "batch size TensorRT tunes kernels for"})
    max_views: int = field(default=8, metadata={"help": "largest view count the engine accepts"})
    opt_views: int = field(default=3, metadata={"help": "view count TensorRT tunes kernels for"})
    workspace_mb: int = field(default=1024, metadata={"help": "builder workspace memory limit in MiB"})
    dla_core: int | None = field(default=None, metadata={"help": "run on this DLA core (Jetson), GPU fallback on"})
    calibration_cache: str | None = field(
        default=None, metadata={"help": "INT8 calibration cache file (read if present, written after calibrating)"}
    )

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if not 1 <= self.opt_batch <= self.max_batch:
            raise ValueError(f"need 1 <= opt_batch <= max_batch, got {self.opt_batch}, {self.max_batch}")
        if not 1 <= self.opt_views <= self.max_views:
            raise ValueError(f"need 1 <= opt_views <= max_views, got {self.opt_views}, {self.max_views}")
        if self.workspace_mb < 16:
            raise ValueError(f"workspace_mb must be at least 16, got {self.workspace_mb}")
        if self.precision == "int8" and not self.calibration_cache:
            raise ValueError("int8 needs calibration_cache (a file to read, or to write after calibrating)")


def import_tensorrt() -> ModuleType:
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise TensorRTUnavailable(f"tensorrt not importable ({exc})") from None
    return trt


def current_target(onnx_path: str | Path, options: EngineBuildOptions) -> EngineTarget:
    """The engine target of this machine: TensorRT version and the GPU, plus the model and options."""
    from vtr_perception.infer.cuda_runtime import CudaUnavailable, open_cuda

    trt = import_tensorrt()
    try:
        gpu_name, capability = open_cuda().device()
    except CudaUnavailable as exc:
        raise TensorRTUnavailable(str(exc)) from None
    return EngineTarget(
        onnx_sha256=file_sha256(onnx_path),
        tensorrt_version=str(trt.__version__),
        gpu_name=gpu_name,
        compute_capability=(int(capability[0]), int(capability[1])),
        precision=options.precision,
        max_batch=options.max_batch,
        max_views=options.max_views,
        dla_core=options.dla_core,
    )


def _profile_shapes(name: str, static: tuple[int, ...], options: EngineBuildOptions) -> tuple[tuple[int, ...], ...]:
    """(min, opt, max) shapes: the leading (batch, views) axes vary, the rest are the ONNX static dims."""
    rest = tuple(int(d) for d in static[2:])
    if any(d < 0 for d in rest):
        raise EngineBuildError(f"input {name!r} has dynamic dims beyond (batch, views): {static}")
    return (
        (1, 1, *rest),
        (options.opt_batch, options.opt_views, *rest),
        (options.max_batch, options.max_views, *rest),
    )


def make_entropy_calibrator(
    trt: ModuleType, batches: Iterable[dict[str, np.ndarray]], cache_path: str | Path, batch_size: int
):
    """An IInt8EntropyCalibrator2 feeding ``batches`` (input name -> array) and caching its result."""
    from vtr_perception.infer.cuda_runtime import open_cuda

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self._batches = iter(batches)
            self._cache_path = Path(cache_path)
            self._cuda = None
            self._live: list = []  # device buffers of the batch TensorRT is reading

        def get_batch_size(self) -> int:
            return batch_size

        def get_batch(self, names: list[str]) -> list[int] | None:
            try:
                batch = next(self._batches)
            except StopIteration:
                return None
            self._cuda = self._cuda or open_cuda()
            self._live = [self._cuda.to_device(np.ascontiguousarray(batch[n], dtype=np.float32)) for n in names]
            return [buf.ptr for buf in self._live]

        def read_calibration_cache(self) -> bytes | None:
            return self._cache_path.read_bytes() if self._cache_path.is_file() else None

        def write_calibration_cache(self, cache) -> None:
            atomic_write_bytes(self._cache_path, bytes(cache))

    return EntropyCalibrator()


def build_serialized_engine(
    onnx_path: str | Path,
    options: EngineBuildOptions,
    *,
    calibration_batches: Iterable[dict[str, np.ndarray]] | None = None,
) -> bytes:
    """Parse ``onnx_path`` and build a serialised engine with ``options`` (blocking; minutes on a Jetson)."""
    trt = import_tensorrt()
    onnx_path = Path(onnx_path)
    if not onnx_path.is_file():
        raise FileNotFoundError(f"ONNX model not found: {onnx_path}")
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if int(str(trt.__version__).split(".")[0]) < 10:  # explicit batch is the only mode from TensorRT 10 on
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineBuildError(f"TensorRT could not parse {onnx_path}: {errors}")

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_mb << 20)
    if options.precision in ("fp16", "int8"):
        if not getattr(builder, "platform_has_fast_fp16", True):  # deprecated in TensorRT 10
            log.warning("this GPU has no fast FP16; building anyway")
        config.set_flag(trt.BuilderFlag.FP16)

    profile = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        min_shape, opt_shape, max_shape = _profile_shapes(tensor.name, tuple(tensor.shape), options)
        profile.set_shape(tensor.name, min_shape, opt_shape, max_shape)
    config.add_optimization_profile(profile)

    if options.precision == "int8":
        if not getattr(builder, "platform_has_fast_int8", True):
            log.warning("this GPU has no fast INT8; building anyway")
        cache = Path(options.calibration_cache)
        if calibration_batches is None and not cache.is_file():
            raise ValueError(f"int8: calibration cache {cache} does not exist and no calibration data was given")
        config.set_flag(trt.BuilderFlag.INT8)
        config.int8_calibrator = make_entropy_calibrator(trt, calibration_batches or [], cache, options.opt_batch)
        config.set_calibration_profile(profile)

    if options.dla_core is not None:
        if builder.num_DLA_cores <= options.dla_core:
            raise EngineBuildError(f"dla_core {options.dla_core} requested but this device has {builder.num_DLA_cores}")
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = options.dla_core
        config.set_flag(trt.BuilderFlag.GPU_FALLBACK)

    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineBuildError(f"TensorRT failed to build an engine from {onnx_path} (see the TensorRT log above)")
    return bytes(serialized)


def build_engine(
    onnx_path: str | Path,
    options: EngineBuildOptions,
    *,
    cache_dir: str | Path | None = None,
    calibration_batches: Iterable[dict[str, np.ndarray]] | None = None,
) -> Path:
    """The cached engine of ``onnx_path`` for this machine, building it (under the cache lock) if absent."""
    from vtr_perception.infer.paths import default_engine_cache_dir

    target = current_target(onnx_path, options)
    return get_or_build_engine(
        target,
        lambda: build_serialized_engine(onnx_path, options, calibration_batches=calibration_batches),
        cache_dir=cache_dir if cache_dir is not None else default_engine_cache_dir(),
    )
