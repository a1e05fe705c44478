import math

import numpy as np
import pytest
import torch

from vtr_perception.geometry import metrics as M
from vtr_perception.geometry.voxels import voxel_centers


def ball(radius=0.35, center=(0.0, 0.0, 0.0), r=32) -> np.ndarray:
    return np.linalg.norm(voxel_centers(r) - np.asarray(center), axis=-1) < radius


class TestIoU:
    def test_self_shift_threshold_and_empty(self):
        g = ball()
        assert M.iou(g, g) == 1.0
        shifted = np.roll(g, 3, axis=0)
        expected = (g & shifted).sum() / (g | shifted).sum()
        assert M.iou(shifted, g) == pytest.approx(expected) and expected < 0.8
        prob = g * 0.35
        assert M.iou(prob, g, threshold=0.4) == 0.0
        assert M.iou(prob, g, threshold=0.3) == 1.0
        empty = np.zeros_like(g)
        assert M.iou(empty, empty) == 1.0  # defined: nothing to get wrong
        assert M.iou(empty, g) == 0.0

    def test_thresholds_batch_and_torch(self):
        g = ball()
        prob = np.where(g, 0.45, 0.25)
        ious = M.iou_at_thresholds(prob, g)
        assert list(ious) == list(M.IOU_THRESHOLDS)
        assert ious[0.2] < 1.0 and ious[0.3] == ious[0.4] == 1.0 and ious[0.5] == 0.0
        batch_pred = np.stack([prob, np.roll(prob, 2, axis=1)])
        batch_gt = np.stack([g, g])
        expected = [M.iou(p, t) for p, t in zip(batch_pred, batch_gt, strict=True)]
        np.testing.assert_allclose(M.iou_batch(batch_pred, batch_gt), expected)
        np.testing.assert_allclose(M.iou_batch(torch.from_numpy(batch_pred), torch.from_numpy(batch_gt)), expected)
        with pytest.raises(ValueError, match="shape"):
            M.iou(prob[:8], g)


class TestPointMetrics:
    def test_identical_and_offset_point_sets(self):
        pts = np.random.default_rng(0).uniform(-0.5, 0.5, size=(200, 3))
        assert M.fscore(pts, pts) == 1.0
        assert M.chamfer_l1(pts, pts) == 0.0
        # points far apart from each other, moved by less / more than tau
        grid = np.stack(np.meshgrid(*[np.linspace(-0.4, 0.4, 5)] * 3, indexing="ij"), -1).reshape(-1, 3)
        assert M.fscore(grid + [0.005, 0, 0], grid) == 1.0
        assert M.chamfer_l1(grid + [0.005, 0, 0], grid) == pytest.approx(0.005)
        assert M.fscore(grid + [0.02, 0, 0], grid) == 0.0
        assert M.chamfer_l1(grid + [0.0, 0.03, 0.04], grid) == pytest.approx(0.05)
        assert M.chamfer_l1(torch.from_numpy(grid), grid) == 0.0

    def test_one_sided_chamfer_is_averaged(self):
        gt = np.array([[0.0, 0, 0], [1.0, 0, 0]])
        pred = np.array([[0.0, 0, 0]])
        # pred->gt: 0; gt->pred: (0 + 1) / 2 -> mean of the two directions 0.25
        assert M.chamfer_l1(pred, gt) == pytest.approx(0.25)
        assert M.fscore(pred, gt) == pytest.approx(2 * 1.0 * 0.5 / 1.5)

    def test_empty_sets(self):
        e = np.zeros((0, 3))
        assert M.fscore(e, e) == 1.0 and M.chamfer_l1(e, e) == 0.0
        assert M.fscore(e, np.ones((3, 3))) == 0.0 and math.isinf(M.chamfer_l1(e, np.ones((3, 3))))
        with pytest.raises(ValueError, match="NaN"):
            M.fscore(np.full((2, 3), np.nan), np.ones((2, 3)))


class TestGridMetrics:
    def test_perfect_shifted_and_empty(self):
        g = ball()
        perfect = M.grid_metrics(g.astype(np.float32), g)
        assert perfect == pytest.approx({"iou": 1.0, "iou_best": 1.0, "fscore": 1.0, "chamfer": 0.0}, abs=1e-6)
        shifted = M.grid_metrics(np.roll(g, 2, axis=0).astype(np.float32), g)
        assert shifted["iou"] < 0.9 and shifted["fscore"] < 0.5
        assert shifted["chamfer"] == pytest.approx(2 / 32 / 2, rel=0.5)  # about half the shift on average
        empty = M.grid_metrics(np.zeros(g.shape, np.float32), g)
        assert empty == {"iou": 0.0, "iou_best": 0.0, "fscore": 0.0, "chamfer": M.CHAMFER_EMPTY}

    def test_concentric_balls_chamfer_is_radius_gap(self):
        inner, outer = ball(0.25), ball(0.35)
        m = M.grid_metrics(inner.astype(np.float32), outer)
        assert m["chamfer"] == pytest.approx(0.10, abs=0.01)
        assert m["fscore"] == 0.0

    def test_batch_and_torch(self):
        gt = np.stack([ball(0.3), ball(0.2)])
        pred = torch.from_numpy(np.stack([ball(0.3), ball(0.25)]).astype(np.float32))
        out = M.grid_metrics_batch(pred, gt)
        assert set(out) == {"iou", "iou_best", "fscore", "chamfer"}
        assert out["iou"][0] == 1.0 and out["iou"][1] < 1.0
