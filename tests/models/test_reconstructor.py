"""Reconstructor: output contract for any batch and view count, both modes, gradients, input errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vtr_perception.geometry.cameras import rotation_from_angles
from vtr_perception.models import OUTPUT_NAMES, Reconstructor, ReconstructorConfig

torch.set_num_threads(2)
TINY = dict(image_size=32, resolution=16)


def inputs(b: int, v: int, size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    images = torch.from_numpy(rng.random((b, v, 3, size, size), dtype=np.float32))
    rot = rotation_from_angles(rng.uniform(0, 360, (b, v)), rng.uniform(-90, 90, (b, v)))
    return images, torch.from_numpy(rot.astype(np.float32))


@pytest.mark.parametrize("mode", ["pose_aware", "canonical"])
@pytest.mark.parametrize("b,v", [(1, 1), (3, 2), (1, 5), (3, 5)])
def test_output_shapes_any_batch_and_view_count(mode: str, b: int, v: int) -> None:
    model = Reconstructor(ReconstructorConfig(mode=mode, **TINY)).eval()
    images, rotations = inputs(b, v, 32)
    with torch.no_grad():
        out = model(images, rotations if mode == "pose_aware" else None)
    assert tuple(out) == OUTPUT_NAMES
    r = 16
    assert out["occupancy"].shape == (b, r, r, r)
    assert out["error"].shape == (b, r, r, r)
    assert out["view_occupancy"].shape == (b, v, r, r, r)
    assert out["view_pose"].shape == (b, v, 4)
    for name in ("occupancy", "error", "view_occupancy"):
        assert 0.0 <= float(out[name].min()) and float(out[name].max()) <= 1.0, name
    pose = out["view_pose"]
    torch.testing.assert_close(pose[..., 0] ** 2 + pose[..., 1] ** 2, torch.ones(b, v), atol=1e-4, rtol=0)
    torch.testing.assert_close(pose[..., 2] ** 2 + pose[..., 3] ** 2, torch.ones(b, v), atol=1e-4, rtol=0)


def test_batch_independence() -> None:
    """Each object's result does not depend on what else is in the batch (no batch statistics)."""
    model = Reconstructor(ReconstructorConfig(**TINY)).eval()
    images, rotations = inputs(3, 2, 32)
    with torch.no_grad():
        together = model(images, rotations)["occupancy"]
        alone = model(images[1:2], rotations[1:2])["occupancy"]
    torch.testing.assert_close(together[1:2], alone, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("mode", ["pose_aware", "canonical"])
def test_gradient_reaches_every_parameter(mode: str) -> None:
    model = Reconstructor(ReconstructorConfig(mode=mode, **TINY))
    images, rotations = inputs(2, 3, 32)
    out = model(images, rotations)
    loss = sum(out[name].mean() for name in OUTPUT_NAMES)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing
    zero = [n for n, p in model.named_parameters() if float(p.grad.abs().sum()) == 0.0]
    assert not zero


def test_error_head_does_not_shape_the_reconstruction() -> None:
    model = Reconstructor(ReconstructorConfig(**TINY))
    images, rotations = inputs(1, 2, 32)
    model(images, rotations)["error"].mean().backward()
    assert all(p.grad is None for n, p in model.named_parameters() if not n.startswith("error_head."))


def test_bad_inputs_are_named() -> None:
    model = Reconstructor(ReconstructorConfig(**TINY))
    images, rotations = inputs(1, 2, 32)
    with pytest.raises(ValueError, match="rotations"):
        model(images)
    with pytest.raises(ValueError, match="images must be"):
        model(images[:, :, :, :16], rotations)
    with pytest.raises(ValueError, match="rotations must be"):
        model(images, rotations[:, :1])
    with pytest.raises(ValueError, match="mode"):
        ReconstructorConfig(mode="nope")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="image_size"):
        ReconstructorConfig(image_size=48)


def test_pretrained_encoder_path(tmp_path) -> None:
    source = Reconstructor(ReconstructorConfig(**TINY))
    path = tmp_path / "encoder.pt"
    torch.save(source.encoder.state_dict(), path)
    loaded = Reconstructor(ReconstructorConfig(pretrained_encoder=str(path), **TINY))
    for (name, a), (_, b) in zip(source.encoder.state_dict().items(), loaded.encoder.state_dict().items(), strict=True):
        torch.testing.assert_close(a, b, msg=name)
    with pytest.raises(ValueError, match="no such file"):
        Reconstructor(ReconstructorConfig(pretrained_encoder=str(tmp_path / "missing.pt"), **TINY))
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="does not fit"):
        Reconstructor(ReconstructorConfig(pretrained_encoder=str(tmp_path / "other.pt"), **TINY))


def test_onnx_opset17_export_with_dynamic_batch_and_views(tmp_path) -> None:
    """The export path (gather warp) exports at opset 17 and matches PyTorch at another batch and view count."""
    import warnings

    import onnxruntime as ort

    model = Reconstructor(ReconstructorConfig(**TINY)).eval()
    images, rotations = inputs(1, 2, 32)
    path = tmp_path / "r.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (images, rotations),
            str(path),
            input_names=["images", "rotations"],
            output_names=list(OUTPUT_NAMES),
            dynamic_axes={"images": {0: "batch", 1: "views"}, "rotations": {0: "batch", 1: "views"}},
            opset_version=17,
            dynamo=False,
        )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    images, rotations = inputs(3, 5, 32, seed=1)
    got = session.run(None, {"images": images.numpy(), "rotations": rotations.numpy()})
    with torch.no_grad():
        want = model(images, rotations)
    for name, value in zip(OUTPUT_NAMES, got, strict=True):
        np.testing.assert_allclose(value, want[name].numpy(), atol=1e-4, err_msg=name)
