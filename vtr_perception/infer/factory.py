"""load_backend(): pick and load an inference backend; `auto` takes the best that works and says why.

auto tries, in order:
  tensorrt     needs `import tensorrt`, a CUDA GPU and an engine for this target (built once, cached)
  onnxruntime  needs the ONNX file (providers: TensorRT EP, CUDA EP, CPU as available)
  torch        needs the checkpoint
An option that is absent here (no package, no file) is logged as one INFO line with its reason. A
file that is present but cannot load (a corrupt ONNX file, a corrupt, mismatched or unbuildable engine)
is one WARNING when auto falls back to a later option that loads, never a crash (when none loads,
the one BackendUnavailable lists every reason). An
explicitly requested kind that cannot load raises BackendUnavailable (a ValueError) instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from vtr_perception.infer.base import Backend
from vtr_perception.infer.engine_cache import (
    EngineMismatch,
    check_engine,
    file_sha256,
    get_or_build_engine,
    read_record,
)
from vtr_perception.infer.paths import CHECKPOINT_NAME, ONNX_NAME, default_engine_cache_dir, default_model_dir
from vtr_perception.infer.tensorrt_build import (
    EngineBuildError,
    EngineBuildOptions,
    TensorRTUnavailable,
    build_serialized_engine,
    current_target,
    import_tensorrt,
)

log = logging.getLogger(__name__)

BACKEND_KINDS = ("auto", "tensorrt", "onnxruntime", "torch")


class BackendUnavailable(ValueError):
    """This backend cannot run here; the message is the reason."""


class EngineUnusable(BackendUnavailable):
    """An engine exists or was attempted but is corrupt, mismatched or failed to build."""


def resolve_model_files(
    model_dir: str | Path | None, onnx_path: str | Path | None, checkpoint: str | Path | None
) -> tuple[Path | None, Path | None]:
    """(onnx, checkpoint): explicit paths must exist; otherwise the model dir's files where present."""
    for label, path in (("onnx_path", onnx_path), ("checkpoint", checkpoint)):
        if path is not None and not Path(path).is_file():
            raise FileNotFoundError(f"{label} {path} does not exist")
    if onnx_path is None or checkpoint is None:
        directory = Path(model_dir) if model_dir is not None else None
        if directory is None:
            try:
                directory = default_model_dir()
            except FileNotFoundError:
                directory = None
        elif not directory.is_dir():
            raise NotADirectoryError(f"model_dir {directory} is not a directory")
        if directory is not None:
            if onnx_path is None and (directory / ONNX_NAME).is_file():
                onnx_path = directory / ONNX_NAME
            if checkpoint is None and (directory / CHECKPOINT_NAME).is_file():
                checkpoint = directory / CHECKPOINT_NAME
    return (Path(onnx_path) if onnx_path else None, Path(checkpoint) if checkpoint else None)


def _load_tensorrt(
    onnx: Path | None,
    *,
    engine_path: str | Path | None,
    engine_cache: str | Path | None,
    engine_options: EngineBuildOptions,
    build_engine: bool,
) -> Backend:
    if onnx is None:
        raise BackendUnavailable("no ONNX model to build or check an engine against")
    if engine_path is not None:
        # Checks that need no TensorRT come first, so a bad engine file is reported as such everywhere.
        if not Path(engine_path).is_file():
            raise EngineUnusable(f"engine {engine_path} does not exist")
        try:
            recorded = read_record(engine_path)
        except EngineMismatch as exc:
            raise EngineUnusable(str(exc)) from None
        if recorded.onnx_sha256 != file_sha256(onnx):
            raise EngineUnusable(f"{Path(engine_path).name} was built from another ONNX model than {onnx}")
    try:
        import_tensorrt()
        target = current_target(onnx, engine_options)
    except TensorRTUnavailable as exc:
        raise BackendUnavailable(str(exc)) from None
    from vtr_perception.infer.metadata import read_onnx_model_info
    from vtr_perception.infer.tensorrt_backend import EngineLoadError, TensorRTBackend

    try:
        if engine_path is not None:
            check_engine(engine_path, target)
        else:
            cache = Path(engine_cache) if engine_cache is not None else default_engine_cache_dir()
            expected = cache / target.filename()
            if not expected.is_file() and not build_engine:
                raise BackendUnavailable(f"no cached engine {expected.name} and building is disabled")
            engine_path = get_or_build_engine(
                target, lambda: build_serialized_engine(onnx, engine_options), cache_dir=cache
            )
        return TensorRTBackend(engine_path, read_onnx_model_info(onnx))
    except (EngineMismatch, EngineLoadError, EngineBuildError) as exc:
        raise EngineUnusable(str(exc)) from None


def _load_onnxruntime(onnx: Path | None, **options) -> Backend:
    if onnx is None:
        raise BackendUnavailable(f"no ONNX model (no {ONNX_NAME} in the model directory, no onnx_path)")
    try:
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailable(f"onnxruntime not importable ({exc})") from None
    from vtr_perception.infer.onnxruntime_backend import OnnxRuntimeBackend

    return OnnxRuntimeBackend(onnx, **options)


def _load_torch(checkpoint: Path | None, *, device: str) -> Backend:
    if checkpoint is None:
        raise BackendUnavailable(f"no checkpoint (no {CHECKPOINT_NAME} in the model directory, no checkpoint)")
    from vtr_perception.infer.torch_backend import TorchBackend

    return TorchBackend(checkpoint, device=device)


def describe(backend: Backend) -> str:
    providers = getattr(backend, "providers", None)
    source = (
        getattr(backend, "engine_path", None)
        or getattr(backend, "onnx_path", None)
        or getattr(backend, "checkpoint", None)
    )
    return f"{backend.name}" + (f" (providers {', '.join(providers)})" if providers else "") + f" from {source}"


def load_backend(
    kind: str = "auto",
    *,
    model_dir: str | Path | None = None,
    onnx_path: str | Path | None = None,
    checkpoint: str | Path | None = None,
    engine_cache: str | Path | None = None,
    engine_path: str | Path | None = None,
    engine_options: EngineBuildOptions | None = None,
    build_engine: bool = True,
    intra_op_threads: int | None = None,
    graph_optimization: str = "all",
    device: str = "cpu",
) -> Backend:
    """Load the reconstructor on ``kind`` ("auto" | "tensorrt" | "onnxruntime" | "torch")."""
    if kind not in BACKEND_KINDS:
        raise ValueError(f"backend must be one of {BACKEND_KINDS}, got {kind!r}")
    onnx, ckpt = resolve_model_files(model_dir, onnx_path, checkpoint)
    loaders: dict[str, Callable[[], Backend]] = {
        "tensorrt": lambda: _load_tensorrt(
            onnx,
            engine_path=engine_path,
            engine_cache=engine_cache,
            engine_options=engine_options or EngineBuildOptions(),
            build_engine=build_engine,
        ),
        "onnxruntime": lambda: _load_onnxruntime(
            onnx, intra_op_threads=intra_op_threads, graph_optimization=graph_optimization, engine_cache=engine_cache
        ),
        "torch": lambda: _load_torch(ckpt, device=device),
    }
    if kind != "auto":
        backend = loaders[kind]()
        log.info("inference backend: %s", describe(backend))
        return backend

    reasons, unusable = [], []
    for name, loader in loaders.items():
        try:
            backend = loader()
        except Exception as exc:  # one option's failure must leave the next one a chance
            reasons.append(f"{name}: {exc}")
            if isinstance(exc, BackendUnavailable) and not isinstance(exc, EngineUnusable):
                log.info("backend %s rejected: %s", name, exc)
            else:  # a file that is present but cannot load
                unusable.append((name, exc))
            continue
        # Warned only once a later option loads: when none does, the one error below says it all.
        for failed, exc in unusable:
            log.warning("backend %s failed to load, falling back to %s: %s", failed, name, exc)
        log.info("inference backend: %s", describe(backend))
        return backend
    raise BackendUnavailable("no inference backend could load: " + "; ".join(reasons))
