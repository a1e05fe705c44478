"""Reconstruction metrics: the one implementation that training, evaluation and benchmarks call.

Definitions (all on the canonical cube, side 1):
- IoU at a threshold t: voxels with ``prob >= t`` against the true occupancy. When both
  the prediction and the truth are empty the IoU is defined as 1.0 (nothing to get wrong).
  Reported at 0.4 and as the best over IOU_THRESHOLDS (0.2, 0.3, 0.4, 0.5).
- F-score at tau (default 0.01 = 1% of the cube side): harmonic mean of precision (share
  of predicted surface points within tau of the true surface) and recall (share of true
  surface points within tau of the predicted surface). Both sets empty -> 1.0, one -> 0.0.
- Chamfer-L1: the mean Euclidean (L2, not squared) nearest-neighbour distance from the
  predicted to the true points and from the true to the predicted points, averaged over
  the two directions (the Occupancy Networks / Pix2Vox++ "Chamfer-L1"). One set empty ->
  inf from chamfer_l1; grid_metrics reports CHAMFER_EMPTY (the cube diagonal) instead so
  that means over objects stay finite.
On grids (grid_metrics) the surfaces are the marching-cubes meshes (meshing.py) of the
binarised grids (prediction at the IoU threshold, so both metrics judge the same voxels); points
sampled on each are measured to the other mesh exactly, so a perfect prediction scores
F = 1 and Chamfer = 0 whatever the number of samples. fscore/chamfer_l1 on point sets
are the plain point-to-point versions.
Inputs may be numpy arrays or torch tensors.
"""

from __future__ import annotations

import math

import numpy as np

IOU_THRESHOLDS = (0.2, 0.3, 0.4, 0.5)
DEFAULT_THRESHOLD = 0.4
FSCORE_TAU = 0.01
SURFACE_POINTS = 10_000
CHAMFER_EMPTY = math.sqrt(3.0)  # the largest distance inside the canonical cube


def _np(x) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _occupied(grid, threshold: float) -> np.ndarray:
    g = _np(grid)
    return g if g.dtype == bool else g >= threshold


def iou_batch(pred_prob, gt_bool, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """(B,) IoU of (B, R, R, R) predictions against (B, R, R, R) truth (any trailing shape works)."""
    p = _occupied(pred_prob, threshold)
    g = _occupied(gt_bool, 0.5)
    if p.shape != g.shape:
        raise ValueError(f"prediction shape {p.shape} != ground-truth shape {g.shape}")
    axes = tuple(range(1, p.ndim))
    inter = np.logical_and(p, g).sum(axis=axes)
    union = np.logical_or(p, g).sum(axis=axes)
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0).astype(np.float64)


def iou(pred_prob, gt_bool, threshold: float = DEFAULT_THRESHOLD) -> float:
    """IoU of one grid (prediction probabilities or bools) against the true occupancy."""
    return float(iou_batch(_np(pred_prob)[None], _np(gt_bool)[None], threshold)[0])


def iou_at_thresholds(pred_prob, gt_bool, thresholds=IOU_THRESHOLDS) -> dict[float, float]:
    return {float(t): iou(pred_prob, gt_bool, t) for t in thresholds}


def _nn_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy.spatial import cKDTree

    return cKDTree(b).query(a, k=1)[0]


def _points(x, what: str) -> np.ndarray:
    p = _np(x).astype(np.float64).reshape(-1, 3) if _np(x).size else np.zeros((0, 3))
    if not np.isfinite(p).all():
        raise ValueError(f"{what} contain NaN or infinite coordinates")
    return p


def fscore(pred_points, gt_points, tau: float = FSCORE_TAU) -> float:
    """F-score at distance ``tau`` between two (N, 3) point sets (see the module docstring)."""
    p, g = _points(pred_points, "predicted points"), _points(gt_points, "ground-truth points")
    if len(p) == 0 and len(g) == 0:
        return 1.0
    if len(p) == 0 or len(g) == 0:
        return 0.0
    precision = float(np.mean(_nn_distances(p, g) < tau))
    recall = float(np.mean(_nn_distances(g, p) < tau))
    if precision + recall == 0.0:
        return 0.0
    return 2.0 * precision * recall / (precision + recall)


def chamfer_l1(pred_points, gt_points) -> float:
    """Chamfer-L1 between two (N, 3) point sets (see the module docstring); inf if exactly one is empty."""
    p, g = _points(pred_points, "predicted points"), _points(gt_points, "ground-truth points")
    if len(p) == 0 and len(g) == 0:
        return 0.0
    if len(p) == 0 or len(g) == 0:
        return math.inf
    return 0.5 * (float(_nn_distances(p, g).mean()) + float(_nn_distances(g, p).mean()))


def surface_points_from_grid(
    prob, threshold: float = DEFAULT_THRESHOLD, n: int = SURFACE_POINTS, *, seed: int = 0
) -> np.ndarray:
    """(n, 3) points uniform by area on the marching-cubes surface of ``prob >= threshold`` (canonical).

    (0, 3) when nothing is occupied.
    """
    from vtr_perception.geometry.meshing import grid_to_mesh, sample_surface

    return sample_surface(grid_to_mesh(_occupied(prob, threshold)), n, seed=seed)


def _distances_to_surface(points: np.ndarray, vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Exact Euclidean distance from each point to the nearest triangle (Open3D BVH)."""
    import open3d as o3d

    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(
        o3d.core.Tensor(np.ascontiguousarray(vertices, dtype=np.float32)),
        o3d.core.Tensor(np.ascontiguousarray(triangles, dtype=np.uint32)),
    )
    return scene.compute_distance(o3d.core.Tensor(np.ascontiguousarray(points, dtype=np.float32))).numpy()


def surface_fscore_chamfer(
    pred_mesh, gt_mesh, *, tau: float = FSCORE_TAU, n: int = SURFACE_POINTS, seed: int = 0
) -> tuple[float, float]:
    """(F-score at tau, Chamfer-L1) between two surfaces.

    Points sampled on each surface are measured against the other *surface* (exact
    point-to-triangle distance), not against the other's samples, so identical surfaces
    score exactly (1, 0) and the result does not depend on the sampling density.
    """
    from vtr_perception.geometry.meshing import sample_surface

    pred_pts = sample_surface(pred_mesh, n, seed=seed)
    gt_pts = sample_surface(gt_mesh, n, seed=seed + 1)
    if len(pred_pts) == 0 and len(gt_pts) == 0:
        return 1.0, 0.0
    if len(pred_pts) == 0 or len(gt_pts) == 0:
        return 0.0, math.inf
    d_pred = _distances_to_surface(pred_pts, gt_mesh.vertices, gt_mesh.triangles)
    d_gt = _distances_to_surface(gt_pts, pred_mesh.vertices, pred_mesh.triangles)
    precision, recall = float(np.mean(d_pred < tau)), float(np.mean(d_gt < tau))
    f = 0.0 if precision + recall == 0.0 else 2.0 * precision * recall / (precision + recall)
    return f, 0.5 * (float(d_pred.mean()) + float(d_gt.mean()))


def grid_metrics(
    pred_prob, gt_bool, threshold: float = DEFAULT_THRESHOLD, *, n_points: int = SURFACE_POINTS, seed: int = 0
) -> dict[str, float]:
    """iou (at ``threshold``), iou_best (over IOU_THRESHOLDS), fscore (at 1%) and chamfer of one grid.

    The surfaces are the marching-cubes meshes of the prediction binarised at ``threshold``
    (the voxels IoU counts) and of the truth, so a perfect prediction scores exactly
    F = 1 and Chamfer = 0 (see surface_fscore_chamfer).
    """
    from vtr_perception.geometry.meshing import grid_to_mesh

    pred, gt = _np(pred_prob), _occupied(gt_bool, 0.5)
    if pred.shape != gt.shape or pred.ndim != 3:
        raise ValueError(f"expected two (R, R, R) grids of the same shape, got {pred.shape} and {gt.shape}")
    ious = iou_at_thresholds(pred, gt)
    pred_occupied = _occupied(pred, threshold)
    f, chamfer = surface_fscore_chamfer(grid_to_mesh(pred_occupied), grid_to_mesh(gt), n=n_points, seed=seed)
    return {
        "iou": iou(pred, gt, threshold),
        "iou_best": max(ious.values()),
        "fscore": f,
        "chamfer": chamfer if math.isfinite(chamfer) else CHAMFER_EMPTY,
    }


def grid_metrics_batch(pred_prob, gt_bool, threshold: float = DEFAULT_THRESHOLD, **kwargs) -> dict[str, np.ndarray]:
    """grid_metrics over a batch: each key -> (B,) array."""
    pred, gt = _np(pred_prob), _np(gt_bool)
    if pred.shape != gt.shape or pred.ndim != 4:
        raise ValueError(f"expected two (B, R, R, R) batches of the same shape, got {pred.shape} and {gt.shape}")
    rows = [grid_metrics(p, g, threshold, **kwargs) for p, g in zip(pred, gt, strict=True)]
    return {k: np.array([r[k] for r in rows]) for k in ("iou", "iou_best", "fscore", "chamfer")}
