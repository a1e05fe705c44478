"""Splits (deterministic, disjoint, stable under subsets) and the binvox / ShapeNet readers."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from vtr_perception.data.binvox import read_binvox, write_binvox
from vtr_perception.data.sources.base import ObjectRecord
from vtr_perception.data.sources.shapenet import read_rendering_metadata, read_shapenet_voxels
from vtr_perception.data.splits import block_counts, split_of, split_of_record


def test_split_is_deterministic_and_near_the_fractions():
    ids = [f"procedural:chair_{i:04d}" for i in range(2000)]
    first = [split_of(i) for i in ids]
    assert first == [split_of(i) for i in ids]
    counts = Counter(first)
    assert set(counts) == {"train", "val", "test"}
    assert counts["train"] / 2000 == pytest.approx(0.8, abs=0.03)
    assert counts["test"] / 2000 == pytest.approx(0.1, abs=0.03)
    assert [split_of(i, seed=1) for i in ids] != first  # the seed reshuffles


def test_synth_fraction_and_pinned_records():
    counts = Counter(split_of(f"x:{i}", (0.6, 0.1, 0.1, 0.2)) for i in range(2000))
    assert counts["synth"] / 2000 == pytest.approx(0.2, abs=0.03)
    pinned = ObjectRecord("pybullet", "900", "random_900", "random", None, {"split": "synth"})
    assert split_of_record(pinned) == "synth"
    with pytest.raises(ValueError, match="fractions"):
        split_of("x", (0.5, 0.5, 0.5))


def test_binvox_reader_on_a_hand_made_file(tmp_path):
    # 2x2x2 grid; stored order is x slowest, then z, then y fastest.
    # occupied: (x=0, y=1, z=0) -> flat index 0*4 + 0*2 + 1 = 1 and (x=1, y=0, z=1) -> 1*4 + 1*2 + 0 = 6
    header = b"#binvox 1\ndim 2 2 2\ntranslate -0.5 -0.5 -0.5\nscale 1\ndata\n"
    rle = bytes([0, 1, 1, 1, 0, 4, 1, 1, 0, 1])
    path = tmp_path / "model.binvox"
    path.write_bytes(header + rle)
    grid = read_binvox(path)
    assert grid.occupancy.shape == (2, 2, 2) and grid.occupancy.dtype == bool
    assert sorted(map(tuple, np.argwhere(grid.occupancy))) == [(0, 1, 0), (1, 0, 1)]
    assert grid.translate == (-0.5, -0.5, -0.5) and grid.scale == 1.0
    # write/read round trip on a random grid, and the y-up -> z-up turn
    occ = np.random.default_rng(0).random((8, 8, 8)) > 0.7
    write_binvox(tmp_path / "r.binvox", occ)
    np.testing.assert_array_equal(read_binvox(tmp_path / "r.binvox").occupancy, occ)
    zup = read_shapenet_voxels(tmp_path / "r.binvox")
    i, j, k = 1, 2, 3
    assert zup[i, j, k] == occ[i, 8 - 1 - k, j]  # z-up (x, y, z) = y-up (x, -z, y)


def test_binvox_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.binvox"
    bad.write_bytes(b"#binvox 1\ndim 2 2 2\ndata\n" + bytes([1, 3]))
    with pytest.raises(ValueError, match="bad.binvox"):
        read_binvox(bad)


def test_rendering_metadata(tmp_path):
    p = tmp_path / "rendering_metadata.txt"
    p.write_text("293.5 25.1 0 0.8 25\n12.0 29.9 0 0.7 25\n")
    data = read_rendering_metadata(p)
    assert data.shape == (2, 5) and data[1, 0] == pytest.approx(12.0)
    p.write_text("1 2\n")
    with pytest.raises(ValueError, match="rendering_metadata"):
        read_rendering_metadata(p)


def test_indexed_objects_are_stratified_per_category():
    from vtr_perception.data.sources.procedural import ProceduralSource

    records = ProceduralSource(per_category=100).list_objects()
    per_cat = Counter((r.category, split_of_record(r)) for r in records)
    for category in {r.category for r in records}:
        assert (per_cat[(category, "train")], per_cat[(category, "val")], per_cat[(category, "test")]) == (80, 10, 10)
    # a prefix (e.g. --limit) keeps every object's split
    small = ProceduralSource(per_category=7).list_objects()
    big = {r.object_id: split_of_record(r) for r in records}
    assert all(split_of_record(r) == big[r.object_id] for r in small)
    # the shuffle differs between categories and blocks
    chairs = [split_of_record(r) for r in records if r.category == "chair"]
    tables = [split_of_record(r) for r in records if r.category == "table"]
    assert chairs != tables and chairs[:20] != chairs[20:40]
    assert block_counts((0.7, 0.1, 0.1, 0.1)) == [14, 2, 2, 2]
    assert block_counts((0.5, 0.25, 0.25)) == [10, 5, 5]
