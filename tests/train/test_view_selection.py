"""View scoring against hand-made error volumes, a brute-force reference, and the selection pool."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vtr_perception.geometry.view_sets import candidate_grid
from vtr_perception.train.view_selection import (
    _ray_samples,
    build_pool,
    top_views,
    visible_error_scores,
    voxel_error,
)

R = 32


def _cube_with_face(face: str) -> torch.Tensor:
    """A solid cube of small error (0.1) with high error (1.0) on one face layer."""
    e = torch.zeros(R, R, R)
    e[8:24, 8:24, 8:24] = 0.1
    sl = {
        "+x": (slice(22, 24), slice(8, 24), slice(8, 24)),
        "-z": (slice(8, 24), slice(8, 24), slice(8, 10)),
        "+y": (slice(8, 24), slice(22, 24), slice(8, 24)),
    }[face]
    e[sl] = 1.0
    return e


@pytest.mark.parametrize(
    "face, direction",
    [("+x", (1.0, 0.0, 0.0)), ("-z", (0.0, 0.0, -1.0)), ("+y", (0.0, 1.0, 0.0))],
)
def test_bin_facing_the_error_wins(face, direction):
    scores = visible_error_scores(_cube_with_face(face)[None])
    assert scores.shape == (1, 72)
    az, el = candidate_grid()
    best = int(scores[0].argmax())
    cam_dir = np.array(
        [
            np.cos(np.radians(el[best])) * np.cos(np.radians(az[best])),
            np.cos(np.radians(el[best])) * np.sin(np.radians(az[best])),
            np.sin(np.radians(el[best])),
        ]
    )
    # The winning camera sits on the side of the erroneous face (within the 30 degree bins' reach).
    assert cam_dir @ np.asarray(direction) > 0.8
    # The view from the opposite side sees mostly the low-error faces (and the high-error face edge-on).
    opposite = int(
        np.argmax(
            -(
                np.stack(
                    [
                        np.cos(np.radians(el)) * np.cos(np.radians(az)),
                        np.cos(np.radians(el)) * np.sin(np.radians(az)),
                        np.sin(np.radians(el)),
                    ],
                    1,
                )
                @ np.asarray(direction)
            )
        )
    )
    assert 0.1 - 1e-6 <= scores[0, opposite] < 0.25 < scores[0, best] - 0.5


def test_empty_volume_scores_zero_not_nan():
    scores = visible_error_scores(torch.zeros(2, R, R, R))
    assert torch.isfinite(scores).all()
    assert (scores == 0).all()


def test_error_below_threshold_is_transparent():
    e = torch.full((1, R, R, R), 0.05)
    e[0, 12:20, 12:20, 12:20] = 0.8  # a hidden core: visible only once the shell falls under the threshold
    assert visible_error_scores(e, np.array([0.0]), np.array([0.0]))[0, 0] == pytest.approx(0.05)
    assert visible_error_scores(e, np.array([0.0]), np.array([0.0]), threshold=0.1)[0, 0] == pytest.approx(0.8)
    assert visible_error_scores(e, np.array([0.0]), np.array([0.0]), threshold=0.9)[0, 0] == 0.0


def test_matches_a_brute_force_ray_march():
    torch.manual_seed(0)
    e = torch.rand(2, 8, 8, 8) * (torch.rand(2, 8, 8, 8) > 0.7)
    az, el = np.array([10.0, 100.0, 200.0]), np.array([-60.0, 5.0, 40.0])
    s, d = 6, 20
    got = visible_error_scores(e, az, el, image_size=s, depth_samples=d)
    pts = _ray_samples(az, el, image_size=s, depth_samples=d, distance=2.0).numpy()
    for b in range(2):
        vol = e[b].numpy()
        for k in range(3):
            hits = []
            for v in range(s):
                for u in range(s):
                    for t in range(d):
                        ijk = np.floor((pts[k, t, v, u] + 0.5) * 8).astype(int)
                        if (ijk < 0).any() or (ijk >= 8).any():
                            continue
                        if vol[tuple(ijk)] > 0:
                            hits.append(vol[tuple(ijk)])
                            break
            want = np.mean(hits) if hits else 0.0
            assert got[b, k].item() == pytest.approx(want, rel=1e-5, abs=1e-6)


def test_voxel_error_masks_by_ground_truth():
    gt = torch.tensor([[1.0, 0.0]]).reshape(1, 1, 1, 2)
    pred = torch.tensor([[0.3, 0.6]]).reshape(1, 1, 1, 2)
    assert voxel_error(pred, gt, mask_by_gt=True).flatten().tolist() == pytest.approx([0.7, 0.0])
    assert voxel_error(pred, gt, mask_by_gt=False).flatten().tolist() == pytest.approx([0.7, 0.6])
    with pytest.raises(ValueError, match="differ in shape"):
        voxel_error(pred, gt[..., :1])


def test_top_views_jitter_and_wrap():
    scores = torch.zeros(1, 72)
    scores[0, 0] = 3.0  # az 15, el -75
    scores[0, 71] = 2.0  # az 345, el 75
    scores[0, 5] = 1.0
    rng = np.random.default_rng(0)
    az, el = top_views(scores, top_k=2, jitter_deg=0.0, rng=rng)
    assert az.tolist() == [[15.0, 345.0]] and el.tolist() == [[-75.0, 75.0]]
    az, el = top_views(scores.repeat(2000, 1), top_k=1, jitter_deg=5.0, rng=rng)
    assert ((az >= 0) & (az < 360)).all() and ((el >= -90) & (el <= 90)).all()
    assert np.std(el) == pytest.approx(5.0, rel=0.1)
    d_az = (az - 15.0 + 180.0) % 360.0 - 180.0
    assert np.std(d_az) == pytest.approx(5.0, rel=0.1)


def test_pool_per_category_and_baselines():
    rng = np.random.default_rng(1)
    scores = torch.rand(4, 72)
    pool = build_pool("error", ["a", "a", "b", "b"], scores=scores, rng=rng, top_k=3)
    assert len(pool) == 12 and pool.categories() == ["a", "b"]
    assert pool.sample("a", 5, rng).shape == (5, 2)
    nature = build_pool("nature", ["a"] * 50, rng=rng)
    assert len(nature) == 150 and all(el == 0.0 for _, el in nature.views["a"])
    rand = build_pool("random", ["a"] * 2000, rng=rng)
    z = np.sin(np.radians(np.array([el for _, el in rand.views["a"]])))
    assert abs(z.mean()) < 0.05 and (z < -0.5).mean() == pytest.approx(0.25, abs=0.03)  # uniform on the sphere
    assert len(build_pool("none", ["a"], rng=rng)) == 0
    with pytest.raises(ValueError, match="empty"):
        build_pool("none", ["a"], rng=rng).sample("a", 1, rng)
    with pytest.raises(ValueError, match="unknown selection"):
        build_pool("best", ["a"], rng=rng)
    with pytest.raises(ValueError, match="one row of view scores"):
        build_pool("error", ["a"], rng=rng)
