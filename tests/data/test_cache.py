"""Dataset cache: build on a few objects, resume, rebuild corrupt files, skip bad objects; ViewDataset."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vtr_perception.data.cache import build_cache, parse_views, read_index, read_object, select_records
from vtr_perception.data.dataset import ViewDataset, cached_records, load_cached_mesh
from vtr_perception.data.sources.procedural import ProceduralSource
from vtr_perception.geometry.view_sets import ALIGNED_ELEVATION

VIEWS = {"aligned": 2, "hemisphere": 2, "sphere": 2}


@pytest.fixture(scope="module")
def procedural_cache(tmp_path_factory):
    out = tmp_path_factory.mktemp("cache")
    index = build_cache("procedural:1", out, size=32, views=VIEWS, limit=3, workers=1, progress=False)
    return out, index


def test_build_writes_objects_and_index(procedural_cache):
    out, index = procedural_cache
    assert index["complete"] and len(index["objects"]) == 3 and index["skipped"] == []
    assert {o["category"] for o in index["objects"]} == {"chair", "table", "mug"}  # round-robin over categories
    assert read_index(out) == index
    entry = index["objects"][0]
    assert entry["split"] in ("train", "val", "test") and entry["file"] == f"objects/{entry['key']}.npz"
    arrays = read_object(out / entry["file"])
    assert arrays["voxels"].shape == (32, 32, 32) and arrays["voxels"].dtype == bool
    assert int(arrays["occupied"]) == int(arrays["voxels"].sum()) >= 20
    for vs, n in VIEWS.items():
        assert arrays[f"{vs}/images"].shape == (n, 32, 32, 3) and arrays[f"{vs}/images"].dtype == np.uint8
        assert arrays[f"{vs}/T_world_camera"].shape == (n, 4, 4)
        assert arrays[f"{vs}/azimuth"].dtype == np.float32
    el = arrays["aligned/elevation"]
    assert ((el >= ALIGNED_ELEVATION[0]) & (el <= ALIGNED_ELEVATION[1])).all()
    # cameras sit on the render sphere looking at the canonical origin
    T = arrays["sphere/T_world_camera"].astype(np.float64)
    assert np.allclose(np.einsum("nij,nj->ni", T[:, :3, :3], [[0, 0, 1]] * len(T)), -T[:, :3, 3] / 2.0, atol=1e-4)
    # the object is visible: some pixels differ from the corner (background) colour
    img = arrays["aligned/images"][0]
    assert (np.abs(img.astype(int) - img[0, 0]).sum(-1) > 30).mean() > 0.05


def test_resume_skips_built_objects_and_rebuilds_corrupt_ones(procedural_cache, tmp_path):
    out, index = procedural_cache
    files = {o["key"]: out / o["file"] for o in index["objects"]}
    mtimes = {k: p.stat().st_mtime_ns for k, p in files.items()}
    broken_key = index["objects"][1]["key"]
    files[broken_key].write_bytes(b"not a zip file")
    again = build_cache("procedural:1", out, size=32, views=VIEWS, limit=3, workers=1, progress=False)
    assert [o["key"] for o in again["objects"]] == [o["key"] for o in index["objects"]]
    for key, path in files.items():
        if key == broken_key:
            read_object(path)  # readable again
        else:
            assert path.stat().st_mtime_ns == mtimes[key]  # untouched
    with pytest.raises(ValueError, match="already holds a cache"):
        build_cache("procedural:1", out, size=48, views=VIEWS, limit=3, workers=1, progress=False)


def test_bad_objects_are_skipped_with_reasons(tmp_path):
    # 168: NaN vertices; 292: a thin needle, 13 voxels at 32^3; 000: fine
    ids = ["000", "168", "292"]
    index = build_cache("pybullet", tmp_path, size=16, views={"aligned": 1}, object_ids=ids, workers=1, progress=False)
    assert [o["object_id"] for o in index["objects"]] == ["000"]
    reasons = {s["object_id"]: s["reason"] for s in index["skipped"]}
    assert "NaN" in reasons["168"] and "168.obj" in reasons["168"]
    assert "nearly empty" in reasons["292"]


def test_select_records_and_views():
    recs = ProceduralSource(per_category=5).list_objects()
    assert [r.category for r in select_records(recs, limit=4)] == ["chair", "table", "mug", "bottle"]
    assert {r.category for r in select_records(recs, categories=["mug"])} == {"mug"}
    with pytest.raises(ValueError, match="spaceship"):
        select_records(recs, categories=["spaceship"])
    assert parse_views("aligned=3, sphere=1") == {"aligned": 3, "sphere": 1}
    for bad in ("aligned", "aligned=x", "diagonal=2", "aligned=0"):
        with pytest.raises(ValueError):
            parse_views(bad)


def test_view_dataset(procedural_cache):
    out, index = procedural_cache
    ds = ViewDataset(out, split=None, view_set="hemisphere", num_views=2)
    assert len(ds) == 3
    item = ds[0]
    assert item["images"].shape == (2, 3, 32, 32) and item["images"].dtype == torch.float32
    assert 0.0 <= float(item["images"].min()) and float(item["images"].max()) <= 1.0
    R = item["rotations"].double()
    assert R.shape == (2, 3, 3) and torch.allclose(R @ R.transpose(1, 2), torch.eye(3, dtype=torch.float64), atol=1e-5)
    assert item["azimuth"].shape == (2,) and item["elevation"].dtype == torch.float32
    assert item["voxels"].shape == (32, 32, 32) and set(item["voxels"].unique().tolist()) <= {0.0, 1.0}
    assert item["object_id"] == index["objects"][0]["key"] and item["category"] == "chair"
    torch.manual_seed(3)
    first = ds[1]["azimuth"]
    torch.manual_seed(3)
    assert torch.equal(first, ds[1]["azimuth"])  # random picks follow torch's seed
    one = ViewDataset(out, split=None, view_set="aligned", num_views=1, fixed=True)
    assert [one[i]["azimuth"].item() for i in range(3)] == [one[i]["azimuth"].item() for i in range(3)]
    loader = torch.utils.data.DataLoader(ds, batch_size=3)
    batch = next(iter(loader))
    assert batch["images"].shape == (3, 2, 3, 32, 32)
    with pytest.raises(ValueError, match="num_views"):
        ViewDataset(out, split=None, num_views=5)
    with pytest.raises(ValueError, match="view set"):
        ViewDataset(out, split=None, view_set="nature")
    splits = {o["split"] for o in cached_records(out)}
    assert sum(len(ViewDataset(out, split=s, num_views=1)) for s in splits) == 3


def test_load_cached_mesh_is_in_the_canonical_cube(procedural_cache):
    from vtr_perception.geometry.voxels import Normalization, voxelize

    out, index = procedural_cache
    entry = index["objects"][2]
    mesh = load_cached_mesh(out, entry["key"])
    lo, hi = mesh.bounds
    assert (hi - lo).max() == pytest.approx(1.0) and np.allclose((hi + lo) / 2, 0.0, atol=1e-9)
    grid, _ = voxelize(mesh, 32, Normalization.identity())
    np.testing.assert_array_equal(grid, read_object(out / entry["file"])["voxels"])
    with pytest.raises(ValueError, match="not in the cache"):
        load_cached_mesh(out, "procedural_nothing")
    json.loads((out / "index.json").read_text())  # valid JSON on disk


def test_build_keeps_only_the_requested_splits(tmp_path):
    index = build_cache("procedural:20", tmp_path / "c", size=16, views={"aligned": 1}, resolution=8, splits=("test",),
                        limit=3, workers=1, progress=False, min_occupied=1)  # fmt: skip
    assert len(index["objects"]) == 3 and {o["split"] for o in index["objects"]} == {"test"}
    assert index["config"]["splits"] == ["test"]
