"""A 1-epoch tiny VTR loop end to end (real renders, real synthesizers, a tiny real network)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from vtr_perception.data.sources.procedural import make_object
from vtr_perception.geometry import voxels
from vtr_perception.geometry.renderer import render_object_views
from vtr_perception.geometry.view_sets import sample_views
from vtr_perception.train.synthesis.diffusion import DiffusionModelConfig, DiffusionSynthesizer, build_unet
from vtr_perception.train.synthesis.render import RenderSynthesizer
from vtr_perception.train.view_selection import build_pool
from vtr_perception.train.vtr import VTRConfig, _synthetic_batch, run_vtr, synthesize_items

torch.set_num_threads(2)
SIZE, RES = 16, 16
KEYS = ["chair_0001", "chair_0002", "mug_0001", "mug_0002"]


def _canonical(key: str):
    mesh = make_object(key)
    return voxels.Normalization.from_bounds(*mesh.bounds).mesh_to_canonical(mesh)


@pytest.fixture(scope="module")
def objects():
    out = {}
    for i, key in enumerate(KEYS):
        mesh = _canonical(key)
        az, el = sample_views("aligned", 4, np.random.default_rng(i))
        images, _, T, _ = render_object_views(mesh, az, el, size=SIZE)
        grid, _ = voxels.voxelize(mesh, resolution=RES, normalization=voxels.Normalization.identity())
        out[key] = {
            "mesh": mesh,
            "images": torch.from_numpy(images.transpose(0, 3, 1, 2).astype(np.float32) / 255.0),
            "rotations": torch.from_numpy(T[:, :3, :3].astype(np.float32)),
            "azimuth": torch.from_numpy(az.astype(np.float32)),
            "elevation": torch.from_numpy(el.astype(np.float32)),
            "voxels": torch.from_numpy(np.asarray(grid, dtype=np.float32)),
            "category": key.split("_")[0],
        }
    return out


class Items(Dataset):
    def __init__(self, objects, num_views):
        self.objects, self.num_views = objects, num_views

    def __len__(self):
        return len(KEYS)

    def __getitem__(self, i):
        o = self.objects[KEYS[i]]
        v = self.num_views
        return {
            **{k: o[k][:v] for k in ("images", "rotations", "azimuth", "elevation")},
            "voxels": o["voxels"],
            "index": i,
            "object_id": KEYS[i],
            "category": o["category"],
        }


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(3, 8, 4, 4), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 16, 64))
        self.dec = nn.Linear(64 + 9, RES**3)

    def forward(self, images, rotations):
        b, v = images.shape[:2]
        feats = torch.cat([self.enc(images.flatten(0, 1)), rotations.flatten(0, 1).flatten(1)], dim=1)
        return torch.sigmoid(self.dec(feats).view(b, v, -1).mean(1)).view(b, RES, RES, RES)


def _predict(model, images, rotations):
    return model(images, rotations)


def _loss(model, batch):
    return nn.functional.binary_cross_entropy(model(batch["images"], batch["rotations"]), batch["voxels"])


def _synth(name, objects, tmp_path):
    if name == "render":
        return RenderSynthesizer(tmp_path, load_mesh=lambda _cache, key: objects[key]["mesh"])
    config = DiffusionModelConfig(image_size=8, block_out_channels=(8, 16), attention_levels=(1,), norm_num_groups=4)
    unet, proj = build_unet(config)
    return DiffusionSynthesizer(unet, proj, num_inference_steps=2, progress=False, cache_dir=tmp_path / "synth")


@pytest.mark.parametrize(
    "selection, synth",
    [("error", "render"), ("error", "diffusion"), ("random", "diffusion"), ("nature", "render"), ("none", "render")],
)
def test_one_epoch_end_to_end(objects, tmp_path, selection, synth):
    torch.manual_seed(0)
    model = TinyNet()
    before = [p.detach().clone() for p in model.parameters()]
    config = VTRConfig(
        selection=selection,
        synth=synth,
        epochs=1,
        steps_per_epoch=4,
        ft_rate=0.5,
        batch_size=2,
        search_objects=4,
        synth_objects=4,
        synth_views_per_object=3,
        num_views=3,
    )
    saved = []
    logs = run_vtr(
        model,
        config,
        train_set=Items(objects, 3),
        source_set=Items(objects, 1),
        synthesizer=_synth(synth, objects, tmp_path),
        predict=_predict,
        loss_fn=_loss,
        save=lambda m, e: saved.append(e["epoch"]),
    )
    assert saved == [0] and len(logs) == 1
    entry = logs[0]
    assert entry["real_batches"] + entry["synthetic_batches"] == 4
    if selection == "none":
        assert entry["synthesized_images"] == 0 and entry["synthetic_batches"] == 0
    else:
        assert entry["synthesized_images"] == 12  # same image count for every selection
        assert sorted(entry["pool"]) == ["chair", "mug"]
        assert sum(len(v) for v in entry["pool"].values()) == 4 * config.top_k
        if selection == "nature":
            assert all(el == 0.0 for views in entry["pool"].values() for _, el in views)
    if selection == "error":
        assert np.isfinite(entry["search_score_mean"]) and entry["search_score_mean"] > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_render_synthesizer_matches_the_true_render(objects, tmp_path):
    synth = _synth("render", objects, tmp_path)
    src = objects["mug_0001"]["images"][:2]
    targets = np.array([[30.0, -60.0], [200.0, 80.0]])
    out = synth.synthesize(src, np.zeros((2, 2)), targets, object_keys=["mug_0001", "mug_0001"])
    want, _, _, _ = render_object_views(objects["mug_0001"]["mesh"], targets[:, 0], targets[:, 1], size=SIZE)
    assert torch.allclose(out, torch.from_numpy(want.transpose(0, 3, 1, 2) / 255.0).float())
    with pytest.raises(ValueError, match="object_keys"):
        synth.synthesize(src, np.zeros((2, 2)), targets)


def test_render_synthesizer_loads_each_mesh_from_the_cache_that_holds_it(objects, tmp_path):
    caches = {}
    for name, keys in (("pybullet", KEYS[:1]), ("procedural", KEYS[1:])):
        caches[name] = tmp_path / name
        caches[name].mkdir()
        (caches[name] / "index.json").write_text(json.dumps({"objects": [{"key": k} for k in keys]}))
    loaded = []

    def load_mesh(cache, key):
        loaded.append((Path(cache).name, key))
        return objects[key]["mesh"]

    synth = RenderSynthesizer([caches["pybullet"], caches["procedural"]], load_mesh=load_mesh)
    keys = [KEYS[1], KEYS[0]]
    synth.synthesize(objects[KEYS[0]]["images"][:2], np.zeros((2, 2)), np.zeros((2, 2)), object_keys=keys)
    assert sorted(loaded) == sorted([("procedural", KEYS[1]), ("pybullet", KEYS[0])])
    with pytest.raises(ValueError, match="in none of the caches"):
        synth.synthesize(objects[KEYS[0]]["images"][:1], np.zeros((1, 2)), np.zeros((1, 2)), object_keys=["nope"])


@pytest.mark.parametrize("keep_source", [False, True])
def test_synthesized_batches_keep_the_real_source_view_when_asked(objects, tmp_path, keep_source):
    rng = np.random.default_rng(0)
    sources = [Items(objects, 1)[i] for i in range(len(KEYS))]
    pool = build_pool("random", [s["category"] for s in sources], rng=rng, scores=None, top_k=3, jitter_deg=5.0)
    items = synthesize_items(
        _synth("render", objects, tmp_path), sources, pool, views_per_object=3, rng=rng, keep_source=keep_source
    )
    assert all(len(it["azimuth"]) == 3 + keep_source for it in items)
    for _ in range(5):
        batch = _synthetic_batch(items, 4, 3, rng)
        assert batch["images"].shape[:2] == (4, 3)
        by_key = {s["object_id"]: s for s in sources}
        first_is_source = [
            torch.equal(batch["images"][b, 0], by_key[key]["images"][0])
            and torch.equal(batch["rotations"][b, 0], by_key[key]["rotations"][0])
            for b, key in enumerate(batch["object_id"])
        ]
        assert all(first_is_source) if keep_source else not any(first_is_source)


def test_config_checks():
    with pytest.raises(ValueError, match="ft_rate"):
        VTRConfig(ft_rate=1.5)
    with pytest.raises(ValueError, match="synth_views_per_object"):
        VTRConfig(synth_views_per_object=2, num_views=3)


@pytest.mark.parametrize("synth", ["render", "zero123"])
def test_train_vtr_command_on_a_tiny_cache_and_checkpoint(tmp_path, capsys, synth):
    """`vtr-perception train-vtr` end to end: real cache, real Reconstructor, the trainer's loss, and the render
    synthesizer or zero123 on a tiny random Zero-1-to-3 checkpoint."""
    if synth == "zero123":
        pytest.importorskip("transformers", reason="the zero123 synthesizer needs transformers")
    from tests.train.test_synthesis import write_tiny_zero123
    from vtr_perception import cli
    from vtr_perception.data.cache import build_cache
    from vtr_perception.data.dataset import cached_records
    from vtr_perception.models import Reconstructor, ReconstructorConfig, save_checkpoint
    from vtr_perception.models.checkpoint import read_checkpoint

    cache = tmp_path / "cache"
    build_cache(
        "pybullet",
        cache,
        size=32,
        resolution=32,
        views={"aligned": 3, "hemisphere": 3, "sphere": 3},
        object_ids=[f"{i:03d}" for i in range(10)],
        workers=1,
        progress=False,
    )
    assert len(cached_records(cache, split="train")) >= 2
    torch.manual_seed(0)
    base = tmp_path / "base.pt"
    save_checkpoint(base, Reconstructor(ReconstructorConfig(image_size=32)))
    out = tmp_path / "vtr.pt"
    synth_args = ["--synth", synth]
    if synth == "zero123":
        synth_args += ["--synth-model", str(write_tiny_zero123(tmp_path / "zero123")), "--synth-steps", "2"]
    capsys.readouterr()
    rc = cli.main(
        [
            "train-vtr",
            "--base",
            str(base),
            "--caches",
            str(cache),
            "--selection",
            "error",
            *synth_args,
            "--epochs",
            "1",
            "--steps-per-epoch",
            "2",
            "--batch-size",
            "2",
            "--search-objects",
            "2",
            "--synth-objects",
            "2",
            "--ft-rate",
            "1.0",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    epoch = json.loads(capsys.readouterr().out)["epochs"][0]
    assert epoch["synthesized_images"] == 2 * 3 and epoch["synthetic_batches"] == 2  # ft-rate 1: all synthesized
    meta = read_checkpoint(out)["metadata"]
    assert meta["epochs_done"] == 1 and meta["vtr"]["selection"] == "error" and meta["vtr"]["synth"] == synth
    assert cli.main(["train-vtr", "--base", str(tmp_path / "missing.pt"), "--caches", str(cache)]) == 2


def test_the_shipped_vtr_config_file_loads_into_vtr_config():
    from vtr_perception import config as cfg

    loaded = cfg.load_yaml(VTRConfig, Path(__file__).resolve().parents[2] / "config" / "vtr_error_diffusion.yaml")
    assert loaded.caches == (".cache/data/pybullet64", ".cache/data/procedural64")
    assert loaded.selection == "error" and loaded.synth == "diffusion" and not loaded.out.startswith("models/")
