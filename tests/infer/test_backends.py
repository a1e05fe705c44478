"""ONNX Runtime and torch backends agree; ModelInfo comes from the ONNX metadata; input checks."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from onnx_export.parity import random_rotations
from vtr_perception.infer.base import OUTPUT_NAMES
from vtr_perception.infer.metadata import read_onnx_model_info
from vtr_perception.infer.onnxruntime_backend import OnnxRuntimeBackend, choose_providers
from vtr_perception.infer.torch_backend import TorchBackend


def _inputs(b: int, v: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.random((b, v, 3, 32, 32), dtype=np.float32), random_rotations(rng, (b, v))


@pytest.fixture(scope="module")
def backends(tiny_model_files):
    directory, _ = tiny_model_files
    ort_backend = OnnxRuntimeBackend(directory / "reconstructor.onnx", intra_op_threads=2)
    return ort_backend, TorchBackend(directory / "reconstructor.pt")


@pytest.mark.parametrize("b, v", [(1, 1), (1, 3), (2, 5)])
def test_onnxruntime_matches_torch_for_any_batch_and_view_count(backends, b, v):
    ort_backend, torch_backend = backends
    images, rotations = _inputs(b, v)
    got = ort_backend.run(images, rotations)
    want = torch_backend.run(images, rotations)
    assert set(got) == set(OUTPUT_NAMES) == set(want)
    r = ort_backend.info.resolution
    expected_shapes = {"occupancy": (b, r, r, r), "error": (b, r, r, r), "view_occupancy": (b, v, r, r, r)}
    expected_shapes["view_pose"] = (b, v, 4)
    for name in OUTPUT_NAMES:
        assert got[name].shape == expected_shapes[name] and got[name].dtype == np.float32
        np.testing.assert_allclose(got[name], want[name], atol=1e-4, rtol=0, err_msg=name)


def test_model_info_from_onnx_metadata_matches_checkpoint_config(backends, tiny_model_files):
    ort_backend, torch_backend = backends
    assert ort_backend.info == torch_backend.info
    assert read_onnx_model_info(tiny_model_files[0] / "reconstructor.onnx").mode == "pose_aware"
    assert ort_backend.info.image_size == 32 and ort_backend.info.resolution == 8


def test_bad_inputs_are_value_errors_naming_the_expected_shape(backends):
    ort_backend, _ = backends
    images, rotations = _inputs(1, 2)
    with pytest.raises(ValueError, match=r"\(B, V, 3, 32, 32\)"):
        ort_backend.run(images[:, :, :, :16])
    with pytest.raises(ValueError, match="needs camera rotations"):
        ort_backend.run(images, None)
    with pytest.raises(ValueError, match="rotations must be"):
        ort_backend.run(images, rotations[:, :1])


def test_provider_order_prefers_tensorrt_then_cuda_then_cpu(tmp_path):
    chosen = choose_providers(
        ["CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"], engine_cache=tmp_path
    )
    assert [c if isinstance(c, str) else c[0] for c in chosen] == list(
        ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
    )
    assert chosen[0][1]["trt_engine_cache_path"] == str(tmp_path / "ort_trt")
    assert choose_providers(["AzureExecutionProvider", "CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    # onnxruntime-openvino: before the CPU EP, on the CPU in FP32 (the same outputs), with the backend's threads
    openvino = choose_providers(["OpenVINOExecutionProvider", "CPUExecutionProvider"], threads=2)
    assert openvino == [("OpenVINOExecutionProvider", {"device_type": "CPU", "precision": "FP32",
                                                       "num_of_threads": "2"}), "CPUExecutionProvider"]  # fmt: skip


def test_onnxruntime_reads_its_model_without_the_onnx_package(tiny_model_files):
    # the run-time path needs no onnx (0.8 s to import): the session holds the metadata and the signature
    code = ("import sys; from vtr_perception.infer.onnxruntime_backend import OnnxRuntimeBackend; "
            f"b = OnnxRuntimeBackend({str(tiny_model_files[0] / 'reconstructor.onnx')!r}); "
            "print(b.info.image_size, b.info.resolution, 'onnx' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["32", "8", "False"], out.stderr


def test_onnxruntime_rejects_missing_and_corrupt_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="ONNX model not found"):
        OnnxRuntimeBackend(tmp_path / "nope.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="bad.onnx"):
        OnnxRuntimeBackend(bad)


def _rewired(source, path, *, rename=None, image_size=None):
    """A copy of the ONNX model ``source`` with graph inputs/outputs renamed, or images declared at another size."""
    import onnx

    model = onnx.load(str(source))
    rename = rename or {}
    for value_info in [*model.graph.input, *model.graph.output]:
        if value_info.name in rename:
            old = value_info.name
            value_info.name = rename[old]
            for node in model.graph.node:
                node.input[:] = [rename.get(n, n) if n == old else n for n in node.input]
                node.output[:] = [rename.get(n, n) if n == old else n for n in node.output]
        if image_size and value_info.name == "images":
            for dim in value_info.type.tensor_type.shape.dim[3:]:
                dim.dim_value = image_size
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize(
    "case, expected",
    [
        ("truncated", r"reconstructor\.onnx: not a readable ONNX model"),
        ("input renamed", r"reconstructor\.onnx: model inputs are \['pixels', 'rotations'\], expected"),
        ("output renamed", r"reconstructor\.onnx: model lacks outputs \['error'\]"),
        ("wrong image size", r"reconstructor\.onnx: images has shape \(\?, \?, 3, 48, 48\), expected .*32, 32"),
    ],
)
def test_onnxruntime_rejects_a_truncated_or_wrong_shaped_model_naming_the_file(tiny_model_files, tmp_path, case,
                                                                               expected):  # fmt: skip
    source = tiny_model_files[0] / "reconstructor.onnx"
    bad = tmp_path / "reconstructor.onnx"
    if case == "truncated":
        bad.write_bytes(source.read_bytes()[:1000])
    elif case == "input renamed":
        _rewired(source, bad, rename={"images": "pixels"})
    elif case == "output renamed":
        _rewired(source, bad, rename={"error": "uncertainty"})
    else:
        _rewired(source, bad, image_size=48)
    with pytest.raises(ValueError, match=expected):
        OnnxRuntimeBackend(bad)
