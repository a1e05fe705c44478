"""ONNX export: checker, parity with PyTorch, metadata, dynamic batch/view axes, failure paths."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

import onnx_export.parity as parity
import vtr_perception
from onnx_export.export import ParityError, export_checkpoint, export_model, main
from onnx_export.parity import random_samples
from vtr_perception.infer.engine_cache import file_sha256
from vtr_perception.infer.metadata import PREFIX, read_onnx_model_info
from vtr_perception.models import Reconstructor, ReconstructorConfig, save_checkpoint


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny pose-aware checkpoint exported with simplification and the full parity check."""
    torch.manual_seed(1)
    torch.set_num_threads(2)
    directory = tmp_path_factory.mktemp("export")
    checkpoint = directory / "reconstructor.pt"
    save_checkpoint(checkpoint, Reconstructor(ReconstructorConfig(image_size=32, resolution=8)))
    result = export_checkpoint(checkpoint, directory / "reconstructor.onnx", real_objects=1)
    return checkpoint, result


def test_export_passes_checker_and_parity_on_random_and_real_inputs(exported):
    _, result = exported
    onnx.checker.check_model(onnx.load(str(result.path)), full_check=True)
    report = result.parity
    assert report.ok and report.max_abs_diff["occupancy"] <= 1e-4
    assert any(name.startswith("random") for name in report.samples)
    real = [name for name in report.samples if not name.startswith("random")]
    assert len(real) == 1 and report.iou_torch == report.iou_onnx and len(report.iou_torch) == 1


def test_metadata_describes_the_model(exported):
    checkpoint, result = exported
    props = {p.key: p.value for p in onnx.load(str(result.path)).metadata_props}
    assert json.loads(props[PREFIX + "input_names"]) == ["images", "rotations"]
    assert json.loads(props[PREFIX + "output_names"]) == ["occupancy", "error", "view_occupancy", "view_pose"]
    assert props[PREFIX + "checkpoint_sha256"] == file_sha256(checkpoint)
    assert props[PREFIX + "package_version"] == vtr_perception.__version__
    assert "[0, 1]" in props[PREFIX + "normalisation"]
    info = read_onnx_model_info(result.path)
    assert (info.image_size, info.resolution, info.mode, info.view_extent, info.max_views) == (
        32,
        8,
        "pose_aware",
        0.75,
        8,
    )


@pytest.mark.parametrize("b, v", [(1, 1), (1, 3), (1, 5), (2, 1), (2, 3), (2, 5)])
def test_dynamic_batch_and_view_axes(exported, b, v):
    _, result = exported
    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    sample = random_samples(result.info, shapes=((b, v),), seed=b * 10 + v)[0]
    out = session.run(None, {"images": sample.images, "rotations": sample.rotations})
    assert [o.shape for o in out] == [(b, 8, 8, 8), (b, 8, 8, 8), (b, v, 8, 8, 8), (b, v, 4)]
    assert all(np.isfinite(o).all() for o in out)


def test_canonical_model_exports_without_a_rotations_input(tmp_path):
    model = Reconstructor(ReconstructorConfig(mode="canonical", image_size=32, resolution=8)).eval()
    info = export_model(model, tmp_path / "c.onnx", simplify=False).info
    session = ort.InferenceSession(str(tmp_path / "c.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["images"] and info.mode == "canonical"
    images = random_samples(info, shapes=((1, 2),))[0].images
    occupancy = session.run(["occupancy"], {"images": images})[0]
    with torch.inference_mode():
        expected = model(torch.from_numpy(images))["occupancy"].numpy()
    np.testing.assert_allclose(occupancy, expected, atol=1e-4)


def test_parity_failure_leaves_no_file_and_exits_nonzero_with_one_line(exported, tmp_path, monkeypatch, capsys):
    checkpoint, _ = exported
    monkeypatch.setattr(parity, "OCCUPANCY_TOLERANCE", -1.0)  # no export can meet a negative tolerance
    out = tmp_path / "failed.onnx"
    with pytest.raises(ParityError, match="does not match PyTorch"):
        export_checkpoint(checkpoint, out, real_objects=0, simplify=False)
    assert not out.exists() and not list(tmp_path.iterdir())
    status = main(["--checkpoint", str(checkpoint), "--out", str(out), "--real-objects", "0", "--no-simplify"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 1 and len(err) == 1 and err[0].startswith("export: error: ONNX export")


def test_bad_checkpoint_is_a_one_line_error(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"junk")
    assert main(["--checkpoint", str(bad), "--out", str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.pt" in err[0]
    assert main(["--checkpoint", str(tmp_path / "missing.pt"), "--out", str(tmp_path / "x.onnx")]) == 2
