"""TensorRT engine cache: one engine per (ONNX file, TensorRT version, GPU, build options).

An engine is only valid for the TensorRT version and GPU it was built with, so the file
name carries all of them, e.g.

    reconstructor.3f9a0c1d2e4b.trt10.3.0.sm87.orin.fp16.b4v8.engine

and a JSON build record beside it (same name + ".json") repeats them in full, with the
whole ONNX sha256. A lookup builds the name for the *current* target, so a TensorRT
upgrade or another GPU simply misses the cache and builds a new engine instead of
loading a stale one ("Version tag does not match"); an engine is built once per target,
not on every start. A file lock keeps two processes from building the same engine at
once; the second waits and then loads the first one's result. Files are written atomically.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from vtr_perception.io_utils import atomic_write_bytes, atomic_write_json

log = logging.getLogger(__name__)


class EngineMismatch(RuntimeError):
    """An engine file exists but was built for another model, TensorRT version, GPU or options."""


def file_sha256(path: str | Path, *, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def gpu_slug(name: str) -> str:
    """'NVIDIA GeForce RTX 4090' -> 'geforce-rtx-4090', 'Orin' -> 'orin' (file-name safe)."""
    words = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-").split("-")
    words = [w for w in words if w and w not in ("nvidia", "corporation")]
    return "-".join(words) or "gpu"


@dataclass(frozen=True)
class EngineTarget:
    """Everything an engine is specific to."""

    onnx_sha256: str
    tensorrt_version: str
    gpu_name: str
    compute_capability: tuple[int, int]
    precision: str  # fp32 | fp16 | int8
    max_batch: int
    max_views: int
    dla_core: int | None = None

    def filename(self, stem: str = "reconstructor") -> str:
        sm = f"sm{self.compute_capability[0]}{self.compute_capability[1]}"
        dla = f".dla{self.dla_core}" if self.dla_core is not None else ""
        return (
            f"{stem}.{self.onnx_sha256[:12]}.trt{self.tensorrt_version}.{sm}.{gpu_slug(self.gpu_name)}"
            f".{self.precision}{dla}.b{self.max_batch}v{self.max_views}.engine"
        )

    def to_record(self) -> dict:
        record = asdict(self)
        record["compute_capability"] = list(self.compute_capability)
        return record

    @classmethod
    def from_record(cls, record: dict) -> EngineTarget:
        record = dict(record)
        record["compute_capability"] = tuple(record["compute_capability"])
        return cls(**record)


def record_path(engine_path: str | Path) -> Path:
    return Path(str(engine_path) + ".json")


def read_record(engine_path: str | Path) -> EngineTarget:
    """The build record beside an engine; EngineMismatch when it is missing or unreadable."""
    path = record_path(engine_path)
    try:
        return EngineTarget.from_record(json.loads(path.read_text())["target"])
    except FileNotFoundError:
        raise EngineMismatch(
            f"{engine_path}: no build record {path.name}; refusing an engine of unknown target"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise EngineMismatch(f"{path}: unreadable build record ({exc})") from None


def check_engine(engine_path: str | Path, expected: EngineTarget) -> None:
    """Raise EngineMismatch naming every field where the engine's record differs from ``expected``."""
    path = Path(engine_path)
    if not path.is_file():
        raise FileNotFoundError(f"TensorRT engine not found: {path}")
    found = read_record(path)
    diffs = [
        f"{key}: engine {getattr(found, key)!r} != wanted {getattr(expected, key)!r}"
        for key in expected.__dataclass_fields__
        if getattr(found, key) != getattr(expected, key)
    ]
    if diffs:
        raise EngineMismatch(f"{path.name} was built for another target ({'; '.join(diffs)})")


def get_or_build_engine(
    target: EngineTarget,
    build: Callable[[], bytes],
    *,
    cache_dir: str | Path,
    stem: str = "reconstructor",
    lock_timeout_s: float = 3600.0,
) -> Path:
    """The cached engine for ``target``, calling ``build()`` (serialised engine bytes) only if absent.

    Holding ``<engine>.lock`` while building makes concurrent callers wait for one build
    instead of racing; a caller that waited finds the engine and loads it.
    """
    cache_dir = Path(cache_dir).expanduser()
    cache_dir.mkdir(parents=True, exist_ok=True)
    engine_path = cache_dir / target.filename(stem)
    if engine_path.is_file() and record_path(engine_path).is_file():
        return engine_path
    lock = FileLock(str(engine_path) + ".lock")
    try:
        lock.acquire(timeout=lock_timeout_s)
    except Timeout:
        raise TimeoutError(f"waited {lock_timeout_s:.0f} s for another process building {engine_path}") from None
    try:
        if engine_path.is_file() and record_path(engine_path).is_file():
            log.info("engine %s was built by another process while we waited", engine_path.name)
            return engine_path
        log.info("building TensorRT engine %s (once per model, TensorRT version and GPU)", engine_path.name)
        start = time.perf_counter()
        data = build()
        if not data:
            raise RuntimeError(f"TensorRT build of {engine_path.name} returned no engine")
        atomic_write_bytes(engine_path, data)
        # The record is written last: an engine without one is never treated as complete.
        atomic_write_json(
            record_path(engine_path),
            {"target": target.to_record(), "built_unix": time.time(), "build_s": time.perf_counter() - start},
        )
        log.info("built %s in %.1f s", engine_path, time.perf_counter() - start)
        return engine_path
    finally:
        lock.release()
