"""The support surface of a table-top frame: its plane under real depth noise, and its extent.

``fit_support`` finds the dominant plane whose normal is within ``support_max_tilt_deg`` of world z
(REP 103: world z up) by RANSAC over the strided points, vectorised in numpy, with an inlier
distance tied to the sensor's noise at each point's range (``noise_threshold``: a fixed 6 mm held
only 8-12% of a Kinect's table points at 1 m). Its extent is the convex hull, in the plane, of the largest
connected patch of inliers on the image grid and of every other patch at least ``support_patch_fraction``
of its size within ``support_patch_gap_m`` of it (an object near a low camera splits the table's image in
two). Cells whose own surface is steep
(a wall, a chair post or the table's edge face cut at the plane's height) are left out of the patch
and an opening removes thin strips, so they never stretch the hull. ``SupportSurface.outside_m``
says how far a point lies beyond that hull: segmentation uses it to keep counters, shelves, chairs
and walls from becoming objects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError, cKDTree

from vtr_perception.perception.config import PerceptionConfig

_RANSAC_SAMPLE = 2000  # points that rank the best hypotheses: enough to rank planes, cheap to score
_RANSAC_FINALISTS = 16  # hypotheses scored on the whole sample (all of them are scored on a quarter of it)


def depth_sigma(depth_m: np.ndarray, config: PerceptionConfig) -> np.ndarray:
    """The configured sensor's axial depth noise (m) at ``depth_m``: base + quadratic * z^2."""
    return config.depth_sigma_base_m + config.depth_sigma_quadratic * np.square(depth_m)


def noise_threshold(depth_m: np.ndarray, config: PerceptionConfig) -> np.ndarray:
    """Distance (m) from the plane within which a point at camera depth ``depth_m`` counts as on it."""
    return np.maximum(config.plane_distance_m, config.plane_noise_sigmas * depth_sigma(depth_m, config))


@dataclass
class SupportSurface:
    """The plane (unit normal towards the camera) and the hull of the patch of it that was seen."""

    plane: np.ndarray  # (4,) a, b, c, d
    inliers: int  # strided points on the plane (all patches)
    basis: np.ndarray  # (2, 3) orthonormal in-plane axes
    hull: np.ndarray | None  # (F, 3) ConvexHull.equations in plane coordinates; None: no extent (0-2 points)

    def height(self, points: np.ndarray) -> np.ndarray:
        """Signed distance (m) of ``points`` above the plane."""
        return _plane_distance(points, self.plane)

    def outside_m(self, points: np.ndarray) -> np.ndarray:
        """How far (m) each point's foot on the plane lies beyond the seen patch's hull (<= 0 inside)."""
        if self.hull is None:
            return np.full(len(points), np.inf)
        uv = _in_plane(points, self.basis)
        # elementwise, one hull face at a time: threaded BLAS products of this size stall on a loaded machine
        out = np.full(len(points), -np.inf)
        for a, b, c in self.hull:
            np.maximum(out, uv[:, 0] * a + uv[:, 1] * b + c, out=out)
        return out


def _in_plane(points: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """(N, 2) coordinates of (N, 3) ``points`` along the two rows of ``basis`` (elementwise, no BLAS)."""
    return np.stack([points[:, 0] * e[0] + points[:, 1] * e[1] + points[:, 2] * e[2] for e in basis], axis=1)


def _plane_basis(normal: np.ndarray) -> np.ndarray:
    helper = np.array([1.0, 0.0, 0.0]) if abs(normal[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(normal, helper)
    e1 /= np.linalg.norm(e1)
    return np.stack([e1, np.cross(normal, e1)])


def ransac_plane(
    points: np.ndarray, threshold: np.ndarray, config: PerceptionConfig, rng: np.random.Generator
) -> np.ndarray | None:
    """Best plane (a, b, c, d; unit normal, c >= 0) of ``points`` with its normal within the tilt limit, or None.

    All ``plane_iterations`` hypotheses are scored at once on a quarter of a subsample, the best
    ``_RANSAC_FINALISTS`` on the whole subsample; the winner is refined by least squares on its
    inliers among all points (twice).
    """
    if len(points) > _RANSAC_SAMPLE:
        idx = rng.choice(len(points), _RANSAC_SAMPLE, replace=False)
        sample, sample_thr = points[idx], threshold[idx]
    else:
        sample, sample_thr = points, threshold
    triples = sample[rng.integers(0, len(sample), size=(config.plane_iterations, 3))]
    normals = np.cross(triples[:, 1] - triples[:, 0], triples[:, 2] - triples[:, 0])
    norms = np.linalg.norm(normals, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        normals = normals / norms
    normals *= np.where(normals[:, 2:] < 0, -1.0, 1.0)
    keep = (norms[:, 0] > 1e-9) & (normals[:, 2] >= np.cos(np.radians(config.support_max_tilt_deg)) - 1e-12)
    if not keep.any():
        return None
    normals = normals[keep]
    offsets = -np.einsum("hc,hc->h", normals, triples[keep, 0])
    # Every hypothesis scored on every 4th point of the sample, the best few on all of it.
    rough = _inlier_counts(sample[::4], sample_thr[::4], normals, offsets)
    top = np.argsort(-rough, kind="stable")[:_RANSAC_FINALISTS]
    best = int(top[np.argmax(_inlier_counts(sample, sample_thr, normals[top], offsets[top]))])
    return refine_plane(points, threshold, np.append(normals[best], offsets[best]))


def refine_plane(points: np.ndarray, threshold: np.ndarray, plane: np.ndarray, rounds: int = 2) -> np.ndarray:
    """``plane`` refitted ``rounds`` times by least squares to its inliers among ``points`` (normal side kept)."""
    for _ in range(rounds):
        inlier = np.abs(_plane_distance(points, plane)) < threshold
        fit = np.ascontiguousarray(points[inlier][:: max(1, int(inlier.sum()) // 5000)].T)  # (3, n): fast rows
        if fit.shape[1] < 3:
            break
        centroid = fit.mean(axis=1)
        centred = fit - centroid[:, None]
        scatter = np.array([[centred[i] @ centred[j] for j in range(3)] for i in range(3)])
        normal = np.linalg.eigh(scatter)[1][:, 0]  # the smallest-variance axis
        normal = normal if normal @ plane[:3] >= 0 else -normal
        plane = np.append(normal, -normal @ centroid)
    return plane


def height_above(points: np.ndarray, plane: np.ndarray) -> np.ndarray:
    """Signed height (m) of (N, 3) world ``points`` above ``plane`` (a, b, c, d; unit normal)."""
    return _plane_distance(points, plane)


def _plane_distance(points: np.ndarray, plane: np.ndarray) -> np.ndarray:
    """Signed distances of (N, 3) ``points`` to ``plane`` (elementwise: no threaded BLAS call)."""
    return points[:, 0] * plane[0] + points[:, 1] * plane[1] + points[:, 2] * plane[2] + plane[3]


def _inlier_counts(points: np.ndarray, threshold: np.ndarray, normals: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """How many ``points`` lie within ``threshold`` of each plane (``normals`` (H, 3), ``offsets`` (H,)).

    float32 and in place, without BLAS: a threaded matrix product and float64 temporaries of this
    (N, H) size cost several times the arithmetic on a shared 2-core machine."""
    p, n = points.astype(np.float32), normals.astype(np.float32)
    dist = p[:, 0:1] * n[:, 0]
    dist += p[:, 1:2] * n[:, 1]
    dist += p[:, 2:3] * n[:, 2]
    dist += offsets.astype(np.float32)
    np.abs(dist, out=dist)
    return np.count_nonzero(dist < threshold.astype(np.float32)[:, None], axis=0)


def steep_cells(points_grid: np.ndarray, cells: np.ndarray, normal: np.ndarray, max_deg: float = 45.0) -> np.ndarray:
    """Which of the grid ``cells`` ((h, w) bool) have a surface (central differences over the grid) tilted more
    than ``max_deg`` from ``normal``, as an (h, w) mask; cells without a normal (holes, border) are not steep."""
    out = np.zeros(cells.shape, dtype=bool)
    if min(cells.shape) < 3:
        return out
    du = points_grid[1:-1, 2:] - points_grid[1:-1, :-2]  # whole-grid slices: no gathers, no np.cross
    dv = points_grid[2:, 1:-1] - points_grid[:-2, 1:-1]
    n = [du[..., (i + 1) % 3] * dv[..., (i + 2) % 3] - du[..., (i + 2) % 3] * dv[..., (i + 1) % 3] for i in range(3)]
    along = n[0] * normal[0] + n[1] * normal[1] + n[2] * normal[2]
    with np.errstate(invalid="ignore"):
        steep = np.abs(along) < np.cos(np.radians(max_deg)) * np.sqrt(n[0] ** 2 + n[1] ** 2 + n[2] ** 2)
    out[1:-1, 1:-1] = steep & cells[1:-1, 1:-1]
    return out


def _plane_from_hint(points: np.ndarray, threshold: np.ndarray, hint: np.ndarray, config: PerceptionConfig):
    """``hint`` refitted to ``points`` when the refit stays on it (within 1 deg and the median noise band: a
    plane cutting the table at an angle is pulled away from itself), is within the tilt limit and holds
    ``plane_min_fraction`` of the points; else None. The normal is made z-up, as RANSAC's."""
    hint = hint / np.linalg.norm(hint[:3])
    hint = hint if hint[2] >= 0 else -hint
    plane = refine_plane(points, threshold, hint, rounds=1)
    if plane[:3] @ hint[:3] < np.cos(np.radians(1.0)) or abs(plane[3] - hint[3]) > np.median(threshold):
        return None
    if plane[2] < np.cos(np.radians(config.support_max_tilt_deg)) - 1e-12:
        return None
    held = np.count_nonzero(np.abs(_plane_distance(points, plane)) < threshold)
    return plane if held >= config.plane_min_fraction * len(points) else None


def fit_support(
    points_grid: np.ndarray,
    valid: np.ndarray,
    threshold_grid: np.ndarray,
    camera: np.ndarray,
    config: PerceptionConfig,
    hint: np.ndarray | None = None,
) -> SupportSurface | None:
    """The support surface of a strided frame (``points_grid`` (h, w, 3), ``valid`` (h, w)), or None.

    ``hint``: a world plane from an earlier frame (the table does not move with the camera). When it,
    refitted to this frame's points, stays where it was and still holds ``plane_min_fraction`` of them
    (``_plane_from_hint``), it is the plane and RANSAC is skipped; otherwise RANSAC runs as without one.
    """
    pts, thr = points_grid[valid], threshold_grid[valid]
    plane = None if hint is None else _plane_from_hint(pts, thr, np.asarray(hint, dtype=np.float64), config)
    if plane is None:
        plane = ransac_plane(pts, thr, config, np.random.default_rng(0))  # the same frame gives the same plane
    if plane is None:
        return None
    if plane[:3] @ camera + plane[3] < 0:  # normal towards the camera: objects are on the positive side
        plane = -plane
    on_plane = np.zeros(valid.shape, dtype=bool)
    on_plane[valid] = np.abs(_plane_distance(pts, plane)) < thr
    inliers = int(on_plane.sum())
    on_plane &= ~steep_cells(points_grid, on_plane, plane[:3])  # walls, posts, edges cut at the plane's height
    basis = _plane_basis(plane[:3])
    # The seen patch: the largest 8-connected blobs of inliers after a closing over holes (cells without depth)
    # and an opening (strips where walls, legs and the table's own edge cross the plane's height are one or
    # two cells wide, and must not join the patch).
    square = np.ones((3, 3), bool)
    filled = on_plane | (ndimage.binary_closing(on_plane, structure=square) & ~valid)
    opened = ndimage.binary_opening(filled, structure=square)
    labels, count = ndimage.label(opened, structure=np.ones((3, 3), bool))
    hull = None
    if count:
        # The hull of a patch of a plane seen through a pinhole is the hull of its rim cells (the image of a
        # plane is a projective map of it): qhull gets the rim, a tenth of the points.
        uv = _in_plane(points_grid[_table_patch(labels, on_plane, points_grid, basis, config)], basis)
        try:
            hull = ConvexHull(uv).equations
        except (QhullError, ValueError):
            hull = None
    return SupportSurface(plane, inliers, basis, hull)


def _rim(patch: np.ndarray) -> np.ndarray:
    return patch & ~ndimage.binary_erosion(patch, structure=np.ones((3, 3), bool))


def _table_patch(labels: np.ndarray, on_plane: np.ndarray, points_grid: np.ndarray, basis: np.ndarray,
                 config: PerceptionConfig) -> np.ndarray:  # fmt: skip
    """The rim cells of the table: the largest labelled patch, joined by every patch at least
    ``support_patch_fraction`` of its size whose rim comes within ``support_patch_gap_m`` of it (the two halves
    of a table a near object splits; not another surface at the same height across the room)."""
    sizes = np.bincount(labels.reshape(-1))[1:]
    largest = 1 + int(np.argmax(sizes))
    rim = _rim((labels == largest) & on_plane)
    others = [1 + k for k in np.flatnonzero(sizes >= config.support_patch_fraction * sizes.max()) if k + 1 != largest]
    if not others or not rim.any():
        return rim
    tree = cKDTree(_in_plane(points_grid[rim], basis))
    for k in others:
        other = _rim((labels == k) & on_plane)
        if other.any() and tree.query(_in_plane(points_grid[other], basis))[0].min() <= config.support_patch_gap_m:
            rim |= other
    return rim
