"""Relative-camera conversion (the frame trap) and a few-step run of each synthesizer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vtr_perception.train.synthesis import make_synthesizer, relative_angles_deg, relative_camera
from vtr_perception.train.synthesis.diffusion import DiffusionModelConfig, DiffusionSynthesizer, build_unet
from vtr_perception.train.synthesis.zero123 import REQUIRED_PARTS, CCProjection, check_zero123_dir

torch.set_num_threads(2)


def test_relative_angles_follow_zero123():
    src = [[350.0, 30.0], [10.0, 20.0], [0.0, -10.0]]
    tgt = [[20.0, -15.0], [340.0, 20.0], [0.0, 80.0]]
    rel = relative_angles_deg(src, tgt).numpy()
    # polar = 90 - elevation: going down by 45 deg is +45 deg polar.
    assert rel[:, 0].tolist() == pytest.approx([45.0, 0.0, -90.0])
    # azimuth difference wraps into [0, 360): 350 -> 20 is +30, 10 -> 340 is +330 (= -30).
    assert rel[:, 1].tolist() == pytest.approx([30.0, 330.0, 0.0])
    assert rel[:, 2].tolist() == pytest.approx([0.0, 0.0, 0.0])


def test_relative_camera_vector():
    cam = relative_camera([[350.0, 30.0]], [[20.0, -15.0]], source_radius=2.0, target_radius=2.5)
    assert cam.dtype == torch.float32 and cam.shape == (1, 4)
    want = [math.radians(45.0), math.sin(math.radians(30.0)), math.cos(math.radians(30.0)), 0.5]
    assert cam[0].tolist() == pytest.approx(want, abs=1e-6)
    # Same relative motion from a different absolute start gives the same condition (frame-free).
    cam2 = relative_camera([[100.0, 30.0]], [[130.0, -15.0]], source_radius=2.0, target_radius=2.5)
    assert torch.allclose(cam, cam2, atol=1e-6)
    # Identity: no motion.
    assert relative_camera([[123.0, 4.0]], [[123.0, 4.0]])[0].tolist() == pytest.approx([0.0, 0.0, 1.0, 0.0])


def test_relative_camera_rejects_bad_shapes():
    with pytest.raises(ValueError, match="source_az_el"):
        relative_camera([1.0, 2.0], [[1.0, 2.0]])
    with pytest.raises(ValueError, match="differ in shape"):
        relative_camera([[1.0, 2.0]], [[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(ValueError, match="NaN"):
        relative_camera([[float("nan"), 2.0]], [[1.0, 2.0]])


def _tiny_diffusion(tmp_path, **kw) -> DiffusionSynthesizer:
    config = DiffusionModelConfig(image_size=16, block_out_channels=(8, 16), attention_levels=(1,), norm_num_groups=4)
    torch.manual_seed(0)
    unet, proj = build_unet(config)
    return DiffusionSynthesizer(unet, proj, num_inference_steps=3, batch_size=3, progress=False, **kw)


def test_diffusion_synthesizer_runs_caches_and_round_trips(tmp_path):
    synth = _tiny_diffusion(tmp_path, cache_dir=tmp_path / "cache")
    src = torch.rand(4, 3, 24, 24)
    angles = np.array([[0.0, 20.0]] * 4)
    targets = np.array([[90.0, -30.0], [180.0, 0.0], [270.0, 60.0], [45.0, 10.0]])
    out = synth.synthesize(src, angles, targets, object_keys=["a", "b", "c", "d"])
    assert out.shape == (4, 3, 24, 24) and out.min() >= 0 and out.max() <= 1
    cached = sorted((tmp_path / "cache").rglob("*.npy"))
    assert len(cached) == 4
    # A second call reads the cache (same images up to uint8 quantisation), even with the UNet broken.
    for p in synth.unet.parameters():
        p.data.fill_(float("nan"))
    again = synth.synthesize(src, angles, targets, object_keys=["a", "b", "c", "d"])
    assert torch.allclose(out, again, atol=1.0 / 255.0 + 1e-6)


def test_diffusion_synthesizer_save_load(tmp_path):
    synth = _tiny_diffusion(tmp_path)
    synth.save_pretrained(tmp_path / "model")
    loaded = make_synthesizer("diffusion", model_dir=tmp_path / "model", num_inference_steps=3, progress=False)
    assert loaded.fingerprint() == synth.fingerprint()
    src = torch.rand(2, 3, 16, 16)
    a = synth.synthesize(src, [[0.0, 20.0]] * 2, [[30.0, 20.0]] * 2)
    b = loaded.synthesize(src, [[0.0, 20.0]] * 2, [[30.0, 20.0]] * 2)
    assert torch.allclose(a, b, atol=1e-5)
    with pytest.raises(ValueError, match="missing unet"):
        make_synthesizer("diffusion", model_dir=tmp_path)


def test_synthesize_checks_inputs(tmp_path):
    synth = _tiny_diffusion(tmp_path)
    with pytest.raises(ValueError, match="one source and one target angle per image"):
        synth.synthesize(torch.rand(2, 3, 16, 16), [[0.0, 0.0]], [[0.0, 0.0]] * 2)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        synth.synthesize(torch.rand(2, 16, 16), [[0.0, 0.0]] * 2, [[0.0, 0.0]] * 2)
    with pytest.raises(ValueError, match="object_keys"):
        synth.synthesize(torch.rand(1, 3, 16, 16), [[0.0, 0.0]], [[0.0, 0.0]], object_keys=["a", "b"])


def test_zero123_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        make_synthesizer("zero123", model_dir=tmp_path / "nope")
    (tmp_path / "unet").mkdir()
    (tmp_path / "unet" / "config.json").write_text("{}")
    (tmp_path / "vae").mkdir()
    with pytest.raises(ValueError, match="is missing") as info:
        check_zero123_dir(tmp_path)
    msg = str(info.value)
    assert "unet/ weights" in msg and "vae/config.json" in msg
    for part in ("image_encoder", "cc_projection", "scheduler"):
        assert f"{part}/" in msg
    assert set(REQUIRED_PARTS) == {"unet", "vae", "image_encoder", "cc_projection", "scheduler"}


def write_tiny_zero123(path, *, seed: int = 0):
    """A randomly initialised Zero-1-to-3 checkpoint in the community pipeline's diffusers layout.

    Tiny but shaped like the real one: an 8-channel UNet (noisy + source latents), a 4-channel
    VAE (2x downsampling here, so the native image size is 8 x 2 = 16), a CLIP vision encoder
    with a projection, and cc_projection mapping [CLIP embedding (16), camera (4)] to the
    UNet's cross-attention width (32). The image encoder is saved in float16, as released
    checkpoints often are: transformers 5 loads a model in its saved dtype unless told otherwise.
    """
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    UNet2DConditionModel(
        sample_size=8, in_channels=8, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32, attention_head_dim=8, norm_num_groups=16,
    ).save_pretrained(path / "unet")  # fmt: skip
    AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(16, 32), layers_per_block=1,
        latent_channels=4, norm_num_groups=16, sample_size=16,
    ).save_pretrained(path / "vae")  # fmt: skip
    clip = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=32,
        patch_size=8,
        projection_dim=16,
    )
    CLIPVisionModelWithProjection(clip).half().save_pretrained(path / "image_encoder")
    CCProjection(in_channel=16 + 4, out_channel=32).save_pretrained(path / "cc_projection")
    DDIMScheduler().save_pretrained(path / "scheduler")
    return path


def test_zero123_synthesizer_few_steps_on_a_tiny_checkpoint(tmp_path):
    pytest.importorskip("transformers", reason="the zero123 synthesizer needs transformers")
    model_dir = write_tiny_zero123(tmp_path / "zero123")
    assert check_zero123_dir(model_dir) == model_dir
    synth = make_synthesizer(
        "zero123", model_dir=model_dir, num_inference_steps=2, image_size=16, batch_size=2, progress=False
    )
    assert synth.image_encoder.dtype == torch.float32  # loaded as float32 although saved as float16
    src = torch.rand(3, 3, 24, 24, generator=torch.Generator().manual_seed(1))
    angles = np.array([[0.0, 20.0]] * 3)
    targets = np.array([[90.0, -30.0], [180.0, 0.0], [270.0, 60.0]])
    out = synth.synthesize(src, angles, targets)
    assert out.shape == src.shape and out.dtype == torch.float32
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    assert out.std() > 1e-3  # not a constant (e.g. fully clamped) image
    # Deterministic for a seed; a different seed samples other noise.
    assert torch.equal(synth.synthesize(src, angles, targets), out)
    # Loading picks the checkpoint's native size (UNet sample_size 8 x VAE factor 2) and the same weights.
    native = make_synthesizer("zero123", model_dir=model_dir, num_inference_steps=2, batch_size=2, progress=False)
    assert native.image_size == 16
    assert torch.allclose(native.synthesize(src, angles, targets), out, atol=1e-5)
    native.seed = 1
    assert not torch.allclose(native.synthesize(src, angles, targets), out, atol=1e-3)
    # The camera condition reaches the UNet: other target angles give other images, image by image ...
    moved = synth.synthesize(src, angles, targets + np.array([[40.0, 10.0]]))
    assert ((moved - out).abs().amax(dim=(1, 2, 3)) > 1e-3).all()
    # ... while it is relative to the source view: the same motion from another absolute start is the same.
    shifted = synth.synthesize(src, angles + [[100.0, 0.0]], targets + [[100.0, 0.0]])
    assert torch.allclose(shifted, out, atol=1e-4)


def test_unknown_synthesizer():
    with pytest.raises(ValueError, match="unknown synthesizer"):
        make_synthesizer("magic")
    with pytest.raises(ValueError, match="data cache"):
        make_synthesizer("render")


def test_image_scores_reference_cases():
    from vtr_perception.train.synth_trainer import image_scores

    white = torch.ones(2, 3, 16, 16)
    obj = white.clone()
    obj[:, :, 4:12, 4:12] = 0.2
    same = image_scores(obj, obj)
    assert same["psnr"] == pytest.approx(100.0) and same["ssim"] == pytest.approx(1.0)
    assert same["silhouette_iou"] == pytest.approx(1.0)
    shifted = white.clone()
    shifted[:, :, 4:12, 8:16] = 0.2  # half of the square overlaps: IoU = 32 / 96
    assert image_scores(shifted, obj)["silhouette_iou"] == pytest.approx(32 / 96)
    mse = float(((shifted - obj) ** 2).mean())
    assert image_scores(shifted, obj)["psnr"] == pytest.approx(10 * math.log10(1.0 / mse), rel=1e-6)
    # a sampled image's background is near white, not white: it is still background
    sampled = obj.clone()
    sampled[obj > 0.5] = 0.92
    assert image_scores(sampled, obj)["silhouette_iou"] == pytest.approx(1.0)


def test_train_synth_few_steps_on_a_tiny_cache(tmp_path):
    from vtr_perception.data.cache import build_cache
    from vtr_perception.train.synth_trainer import SynthTrainConfig, train_synthesizer

    cache = tmp_path / "cache"
    build_cache(
        "pybullet",
        cache,
        size=16,
        resolution=8,
        views={"aligned": 2, "hemisphere": 2, "sphere": 2},
        object_ids=[str(i) for i in range(800, 805)],
        workers=1,
        progress=False,
    )
    config = SynthTrainConfig(
        data_cache=str(cache),
        out=str(tmp_path / "synth"),
        max_steps=3,
        batch_size=4,
        eval_objects=2,
        eval_pairs=2,
        inference_steps=2,
    )
    model = DiffusionModelConfig(image_size=8, block_out_channels=(8, 16), attention_levels=(1,), norm_num_groups=4)
    report = train_synthesizer(config, model)
    assert report["steps"] == 3 and report["train_objects"] == 3 and report["held_out_objects"] == 2
    assert report["scores"]["pairs"] == 4
    for name in ("model", "copy_source"):
        assert set(report["scores"][name]) == {"psnr", "ssim", "silhouette_iou"}
    loaded = DiffusionSynthesizer.from_pretrained(tmp_path / "synth", num_inference_steps=2, progress=False)
    assert loaded.image_size == 8
    assert loaded.scheduler.config.prediction_type == "v_prediction"  # what it was trained for, saved with it
    with pytest.raises(ValueError, match="prediction_type"):
        DiffusionModelConfig(prediction_type="sample")
    with pytest.raises(ValueError, match="no objects in split"):
        train_synthesizer(SynthTrainConfig(data_cache=str(cache), split="test"), model)
