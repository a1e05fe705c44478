"""Engine cache naming, build records, mismatch detection and the build lock (no TensorRT needed)."""

from __future__ import annotations

import dataclasses
import multiprocessing
import time
from pathlib import Path

import pytest

from vtr_perception.infer.engine_cache import (
    EngineMismatch,
    EngineTarget,
    check_engine,
    get_or_build_engine,
    gpu_slug,
    read_record,
)

TARGET = EngineTarget(
    onnx_sha256="3f9a0c1d2e4b" + "0" * 52,
    tensorrt_version="10.3.0",
    gpu_name="Orin",
    compute_capability=(8, 7),
    precision="fp16",
    max_batch=4,
    max_views=8,
)


def test_filename_carries_model_hash_trt_version_gpu_and_options():
    assert TARGET.filename() == "reconstructor.3f9a0c1d2e4b.trt10.3.0.sm87.orin.fp16.b4v8.engine"
    dla = dataclasses.replace(TARGET, dla_core=1, precision="int8")
    assert dla.filename() == "reconstructor.3f9a0c1d2e4b.trt10.3.0.sm87.orin.int8.dla1.b4v8.engine"


@pytest.mark.parametrize(
    "name, slug",
    [("NVIDIA GeForce RTX 4090", "geforce-rtx-4090"), ("Orin", "orin"), ("NVIDIA H100 80GB HBM3", "h100-80gb-hbm3")],
)
def test_gpu_slug_is_file_name_safe(name, slug):
    assert gpu_slug(name) == slug


def test_builds_once_then_reuses_and_a_new_target_gets_a_new_file(tmp_path):
    calls = []

    def build() -> bytes:
        calls.append(1)
        return b"engine-bytes"

    first = get_or_build_engine(TARGET, build, cache_dir=tmp_path)
    again = get_or_build_engine(TARGET, build, cache_dir=tmp_path)
    assert first == again and len(calls) == 1
    assert first.read_bytes() == b"engine-bytes"
    assert read_record(first) == TARGET
    upgraded = get_or_build_engine(dataclasses.replace(TARGET, tensorrt_version="10.4.0"), build, cache_dir=tmp_path)
    assert upgraded != first and len(calls) == 2
    assert sorted(p.name for p in tmp_path.glob("*.engine")) == sorted([first.name, upgraded.name])


def test_failed_build_leaves_nothing_and_releases_the_lock(tmp_path):
    def broken() -> bytes:
        raise RuntimeError("builder exploded")

    with pytest.raises(RuntimeError, match="exploded"):
        get_or_build_engine(TARGET, broken, cache_dir=tmp_path)
    assert not list(tmp_path.glob("*.engine")) and not list(tmp_path.glob("*.json"))
    path = get_or_build_engine(TARGET, lambda: b"ok", cache_dir=tmp_path)
    assert path.read_bytes() == b"ok"


def test_check_engine_names_every_mismatched_field(tmp_path):
    path = get_or_build_engine(TARGET, lambda: b"x", cache_dir=tmp_path)
    check_engine(path, TARGET)
    other = dataclasses.replace(TARGET, tensorrt_version="10.7.0", compute_capability=(8, 9))
    with pytest.raises(EngineMismatch, match="tensorrt_version.*compute_capability"):
        check_engine(path, other)


def test_engine_without_build_record_is_refused(tmp_path):
    garbage = tmp_path / "stray.engine"
    garbage.write_bytes(b"\x00garbage")
    with pytest.raises(EngineMismatch, match="no build record"):
        check_engine(garbage, TARGET)


def _slow_build_in_process(cache_dir: str, counter: str, out: str) -> None:
    def build() -> bytes:
        with open(counter, "a") as f:
            f.write("built\n")
        time.sleep(0.6)
        return b"engine"

    path = get_or_build_engine(TARGET, build, cache_dir=cache_dir)
    Path(out).write_text(str(path))


def test_lock_makes_concurrent_processes_build_once(tmp_path):
    counter = tmp_path / "builds.txt"
    ctx = multiprocessing.get_context("fork")
    procs = [
        ctx.Process(target=_slow_build_in_process, args=(str(tmp_path / "cache"), str(counter), str(tmp_path / f"{i}")))
        for i in range(3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert counter.read_text().count("built") == 1
    paths = {(tmp_path / f"{i}").read_text() for i in range(3)}
    assert len(paths) == 1 and Path(paths.pop()).read_bytes() == b"engine"
