"""TensorRT builder and backend on a real GPU. Skipped unless `import tensorrt` works and CUDA is present.

Run on a Jetson or desktop GPU: pytest tests/infer -m tensorrt
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from onnx_export.parity import random_rotations
from vtr_perception.infer import load_backend
from vtr_perception.infer.engine_cache import read_record
from vtr_perception.infer.onnxruntime_backend import OnnxRuntimeBackend
from vtr_perception.infer.tensorrt_build import EngineBuildOptions, build_engine

pytestmark = pytest.mark.tensorrt
trt = pytest.importorskip("tensorrt")


@pytest.fixture(scope="module")
def gpu():
    from vtr_perception.infer.cuda_runtime import CudaUnavailable, open_cuda

    try:
        return open_cuda()
    except CudaUnavailable as exc:
        pytest.skip(f"no CUDA GPU: {exc}")


@pytest.fixture(scope="module")
def engine(tiny_model_files, tmp_path_factory, gpu):
    onnx = tiny_model_files[0] / "reconstructor.onnx"
    options = EngineBuildOptions(precision="fp32", max_batch=2, max_views=5, workspace_mb=256)
    return onnx, options, build_engine(onnx, options, cache_dir=tmp_path_factory.mktemp("engines"))


def test_engine_name_and_record_describe_this_target(engine, gpu):
    _, _, path = engine
    record = read_record(path)
    assert record.tensorrt_version == trt.__version__ and f".trt{trt.__version__}." in path.name
    assert record.compute_capability == tuple(gpu.device()[1])


def test_second_build_reuses_the_cached_engine(engine):
    onnx, options, path = engine
    mtime = path.stat().st_mtime_ns
    assert build_engine(onnx, options, cache_dir=path.parent) == path and path.stat().st_mtime_ns == mtime


@pytest.mark.parametrize("b, v", [(1, 1), (1, 3), (2, 5)])
def test_tensorrt_matches_onnxruntime(engine, b, v):
    onnx, _, path = engine
    backend = load_backend("tensorrt", onnx_path=onnx, engine_path=path)
    rng = np.random.default_rng(b + v)
    images = rng.random((b, v, 3, 32, 32), dtype=np.float32)
    rotations = random_rotations(rng, (b, v))
    got = backend.run(images, rotations)
    want = OnnxRuntimeBackend(onnx, providers=["CPUExecutionProvider"]).run(images, rotations)
    for name, value in want.items():
        np.testing.assert_allclose(got[name], value, atol=1e-3, err_msg=name)  # fp32 engine, TF32 kernels


def test_views_beyond_the_profile_are_a_clear_error(engine):
    onnx, _, path = engine
    backend = load_backend("tensorrt", onnx_path=onnx, engine_path=path)
    with pytest.raises(ValueError, match="at most batch 2 and 5 views"):
        backend.run(np.zeros((1, 6, 3, 32, 32), np.float32), np.tile(np.eye(3, dtype=np.float32), (1, 6, 1, 1)))


def test_corrupt_engine_falls_back_to_onnxruntime_with_one_warning(engine, tmp_path, caplog):
    onnx, _, path = engine
    corrupt = tmp_path / path.name
    corrupt.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 3])
    (tmp_path / (path.name + ".json")).write_bytes((path.parent / (path.name + ".json")).read_bytes())
    caplog.set_level(logging.INFO)
    backend = load_backend("auto", onnx_path=onnx, engine_path=corrupt)
    assert backend.name == "onnxruntime"
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
