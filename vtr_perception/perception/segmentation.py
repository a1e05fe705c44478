"""Per-object segmentation of one frame: depth table-top (support surface + DBSCAN) or an instance-mask image.

Both paths return ``Detection`` values: a full-resolution pixel mask, the object's 3D points
in the world frame (empty without depth), its world-axis bounding box and whether the image
border cuts it (a cut object's view must not enter the view buffer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from vtr_perception.geometry.cameras import Intrinsics
from vtr_perception.perception.config import PerceptionConfig
from vtr_perception.perception.support import fit_support, noise_threshold


@dataclass
class Detection:
    """One object seen in one frame."""

    mask: np.ndarray  # (H, W) bool
    points_world: np.ndarray  # (N, 3); empty without depth
    center: np.ndarray  # (3,) world bounding-box centre (z extended down to the support plane when known)
    extent: np.ndarray  # (3,) world-axis bounding-box size (m)
    cut_by_border: bool
    instance_id: int | None = None
    ray: tuple[np.ndarray, np.ndarray] | None = None  # RGB only: (origin, unit direction) through the mask centre

    @property
    def size(self) -> float:
        """Longest side of the world-axis bounding box (m): the canonical-cube normalisation."""
        return float(np.max(self.extent))

    @property
    def bbox_px(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) pixel box of the mask, exclusive upper corner."""
        return mask_bbox(self.mask)


def mask_bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) box of a non-empty mask, exclusive upper corner (row/column reductions, no nonzero)."""
    cols, rows = np.flatnonzero(mask.any(axis=0)), np.flatnonzero(mask.any(axis=1))
    if len(cols) == 0:
        raise ValueError("the mask is empty")
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


@dataclass
class Segmentation:
    detections: list[Detection]
    plane_world: np.ndarray | None  # (4,) a, b, c, d with unit normal towards the camera
    reason: str | None = None  # why nothing could be segmented (e.g. "no_valid_depth")


def valid_depth(depth: np.ndarray, config: PerceptionConfig) -> np.ndarray:
    """Pixels with a usable depth: finite and inside [min_depth_m, max_depth_m] (NaN/inf/0 are invalid)."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(depth) & (depth >= config.min_depth_m) & (depth <= config.max_depth_m)


def touches_border(mask: np.ndarray, margin: int) -> bool:
    m = max(int(margin), 1)
    return bool(mask[:m].any() or mask[-m:].any() or mask[:, :m].any() or mask[:, -m:].any())


def _detection(
    mask: np.ndarray,
    points: np.ndarray,
    plane: np.ndarray | None,
    config: PerceptionConfig,
    instance_id: int | None = None,
) -> Detection:
    cut = touches_border(mask, config.border_margin_px)
    if len(points) == 0:
        return Detection(mask, points, np.full(3, np.nan), np.full(3, np.nan), cut, instance_id)
    lo, hi = points.min(axis=0), points.max(axis=0)
    if plane is not None and abs(plane[2]) > 0.9:  # a horizontal support: the object stands on it
        centre_xy = 0.5 * (lo[:2] + hi[:2])
        plane_z = -(plane[3] + plane[0] * centre_xy[0] + plane[1] * centre_xy[1]) / plane[2]
        if plane_z < lo[2]:
            lo = np.array([lo[0], lo[1], plane_z])
    return Detection(mask, points, 0.5 * (lo + hi), hi - lo, cut, instance_id)


def backproject(depth: np.ndarray, intrinsics: Intrinsics, T_world_camera: np.ndarray, stride: int = 1):
    """World points of every ``stride``-th pixel: returns (points (h, w, 3), depth (h, w)) on that sub-grid.

    Each world coordinate is d * (R[c] . ray) + t[c], built elementwise (no threaded BLAS product)."""
    d = depth[::stride, ::stride].astype(np.float64)
    d[~np.isfinite(d)] = np.nan  # inf * 0 in the products below would warn
    v = (np.arange(0, depth.shape[0], stride) + 0.5 - intrinsics.cy) / intrinsics.fy
    u = (np.arange(0, depth.shape[1], stride) + 0.5 - intrinsics.cx) / intrinsics.fx
    T = np.asarray(T_world_camera, dtype=np.float64)
    pts = np.empty((*d.shape, 3))
    with np.errstate(invalid="ignore"):
        for c in range(3):
            np.multiply(d, T[c, 0] * u[None, :] + T[c, 1] * v[:, None] + T[c, 2], out=pts[..., c])
            pts[..., c] += T[c, 3]
    return pts, d


def _check_inputs(image: np.ndarray, name: str, intrinsics: Intrinsics) -> None:
    if image.shape[:2] != (intrinsics.height, intrinsics.width):
        raise ValueError(
            f"{name} is {image.shape[1]}x{image.shape[0]} but the intrinsics are {intrinsics.width}x{intrinsics.height}"
        )


def segmentation_stride(config: PerceptionConfig, intrinsics: Intrinsics) -> int:
    """The pixel stride segmentation uses for this camera: ``pixel_stride`` scaled by fx / ``stride_focal_px``."""
    if config.stride_focal_px <= 0:
        return int(config.pixel_stride)
    return max(1, int(round(config.pixel_stride * intrinsics.fx / config.stride_focal_px)))


def segment_depth(
    depth: np.ndarray,
    intrinsics: Intrinsics,
    T_world_camera: np.ndarray,
    config: PerceptionConfig,
    plane_hint: np.ndarray | None = None,
    known_footprints: np.ndarray | None = None,
) -> Segmentation:
    """Table-top segmentation: find the support surface, cluster what stands on it (DBSCAN), keep objects.

    A cluster is an object when it stands on the support (its lowest point near the plane), lies within
    the support's seen extent (perception/support.py), is no longer than ``max_object_size_m``, no lower than
    ``min_object_height_m`` and has ``min_points`` points. DBSCAN's radius grows with each point's range
    (``cluster_radius``).
    ``plane_hint`` (an earlier frame's ``plane_world``) skips the plane search while it still fits
    (``fit_support``); the extent is found in every frame. ``known_footprints`` ((M, 2, 3) world boxes, lo and
    hi, of objects already tracked): a cluster within one's x-y box is not dropped for lying beyond this
    frame's extent, which a view low over the table sees little of, nor for floating when it reaches below
    the box's top (its foot hidden under an overhang or a neighbour); see ``reject_non_objects``.
    """
    depth = np.asarray(depth)
    _check_inputs(depth, "depth", intrinsics)
    s = segmentation_stride(config, intrinsics)
    pts_grid, d_grid = backproject(depth, intrinsics, T_world_camera, s)
    valid = valid_depth(d_grid, config)
    n_valid = int(valid.sum())
    if n_valid < max(3 * config.min_object_points, 30):
        return Segmentation([], None, "no_valid_depth")
    thr_grid = noise_threshold(np.nan_to_num(d_grid), config)
    camera = np.asarray(T_world_camera, dtype=np.float64)[:3, 3]
    support = fit_support(pts_grid, valid, thr_grid, camera, config, hint=plane_hint)
    if support is None or support.inliers < config.plane_min_fraction * n_valid:
        return Segmentation([], None, "no_support_plane")
    plane = support.plane
    pts, thr = pts_grid[valid], thr_grid[valid]
    height = support.height(pts)
    candidate = np.flatnonzero((height > thr) & (height < config.max_object_height_m))
    outside = support.outside_m(pts[candidate])
    near = outside <= config.region_margin_m + config.region_search_m  # clustered: inside, or crossing the edge
    candidate, outside = candidate[near], outside[near]
    if len(candidate) < config.min_object_points:
        return Segmentation([], plane, None)
    obj_pts = pts[candidate]
    radius = cluster_radius(d_grid[valid][candidate], s, intrinsics, config)
    labels = cluster_points(obj_pts, config, radius)
    labels = reject_non_objects(obj_pts, labels, height[candidate], thr[candidate], outside, config, known_footprints)
    label_grid = np.full(valid.shape, -1, dtype=np.int32)
    label_grid.reshape(-1)[np.flatnonzero(valid.reshape(-1))[candidate]] = labels
    # Grow labels into unlabelled neighbour blocks only (never over another object's block), so mask edges are kept.
    grown = np.where(label_grid >= 0, label_grid, ndimage.grey_dilation(label_grid + 1, size=(3, 3)) - 1)
    detections = []
    for k in range(int(labels.max()) + 1 if len(labels) else 0):
        sel = labels == k
        if sel.sum() < min_points(radius[sel], config):
            continue
        points = obj_pts[sel]
        mask = _full_resolution_mask(grown == k, s, points, depth, intrinsics, T_world_camera, plane, config)
        if mask is not None:
            detections.append(_detection(mask, points, plane, config))
    return Segmentation(detections, plane, None)


def _cluster_stats(labels: np.ndarray, n: int, points: np.ndarray, values: dict[str, np.ndarray]):
    """Per cluster 0..n-1 of ``labels`` (>= 0 only): point count, box corners and the minimum of each of ``values``.

    One sort by label and a ``reduceat`` per quantity; empty clusters get +inf / -inf."""
    member = np.flatnonzero(labels >= 0)
    order = member[np.argsort(labels[member], kind="stable")]
    lab = labels[order]
    count = np.bincount(lab, minlength=n)
    present = np.flatnonzero(count)
    starts = np.searchsorted(lab, present)
    lo, hi = np.full((n, 3), np.inf), np.full((n, 3), -np.inf)
    minima = {key: np.full(n, np.inf) for key in values}
    if len(order):
        lo[present] = np.minimum.reduceat(points[order], starts, axis=0)
        hi[present] = np.maximum.reduceat(points[order], starts, axis=0)
        for key, v in values.items():
            minima[key][present] = np.minimum.reduceat(v[order], starts)
    return count, lo, hi, minima


# A part of a tracked object may lie beyond this view's table extent by this share of its points at most: a
# far object seen low over the table had 0.53; a chair's rail beyond the table's edge, 0.82-1.0.
KNOWN_MAX_OUTSIDE = 0.75


def reject_non_objects(
    points: np.ndarray,
    labels: np.ndarray,
    height: np.ndarray,
    band: np.ndarray,
    outside: np.ndarray,
    config: PerceptionConfig,
    known_footprints: np.ndarray | None = None,
) -> np.ndarray:
    """``labels`` with clusters that are not table objects set to -1 (noise), floating pieces joined to their object.

    ``height`` is each point's height above the plane, ``band`` the plane's noise band there (its clearance
    is ``height - band``), ``outside`` its distance beyond the support's extent. A cluster whose lowest point
    is more than ``support_contact_m`` above the band, and more than ``support_contact_fraction`` of its highest
    point's height above it, does not stand on the support: it joins a standing
    cluster whose footprint (grown by ``cluster_eps_m``) overlaps its own (a lamp's shade over its stem, split
    by noise or self-occlusion), else it is dropped (a shelf, a chair's rail), unless it lies within one of
    ``known_footprints`` and reaches below its top (a tracked object whose foot this view does not see). Then
    rejected: clusters with more than ``region_max_outside_fraction`` of their points beyond the extent grown
    by ``region_margin_m`` (unless the cluster lies within one of ``known_footprints``, a part of an object
    already tracked, with at most ``KNOWN_MAX_OUTSIDE`` of its points beyond), longer than
    ``max_object_size_m`` or lower than ``min_object_height_m`` (their highest point above the plane).
    "Within" a footprint allows ``region_margin_m`` of noise at its sides.
    """
    clearance = height - band
    if not (labels >= 0).any():
        return labels
    n = int(labels.max()) + 1
    beyond = (outside > config.region_margin_m).astype(np.float64)
    _, lo, hi, minima = _cluster_stats(labels, n, points, {"clearance": clearance, "negated": -clearance})
    lowest, highest = minima["clearance"], -minima["negated"]
    standing = (lowest <= config.support_contact_m) | (lowest <= config.support_contact_fraction * highest)
    standing |= _within_known(lo, hi, known_footprints, config.region_margin_m, below_top=True)
    target = np.where(standing, np.arange(n), -1)
    eps = config.cluster_eps_m
    for f in np.flatnonzero(~standing & np.isfinite(minima["clearance"])):
        overlap = np.all((lo[:, :2] <= hi[f, :2] + eps) & (hi[:, :2] >= lo[f, :2] - eps), axis=1) & standing
        if overlap.any():
            target[f] = int(np.flatnonzero(overlap)[0])
    labels = np.where(labels >= 0, target[np.maximum(labels, 0)], -1)
    count, lo, hi, minima = _cluster_stats(labels, n, points, {"negated_height": -height})
    beyond_count = np.bincount(labels[labels >= 0], weights=beyond[labels >= 0], minlength=n)
    with np.errstate(invalid="ignore"):
        inside = beyond_count <= config.region_max_outside_fraction * count
        known = _within_known(lo, hi, known_footprints, config.region_margin_m)
        known &= beyond_count <= KNOWN_MAX_OUTSIDE * count
        ok = (count > 0) & (inside | known)
        ok &= np.max(hi - lo, axis=1) <= config.max_object_size_m
        ok &= -minima["negated_height"] >= config.min_object_height_m  # each cluster's highest point
    labels = np.where(labels >= 0, np.where(ok, np.arange(n), -1)[np.maximum(labels, 0)], -1)
    _, compact = np.unique(labels, return_inverse=True)  # renumber 0..m-1, noise stays -1
    return np.where(labels >= 0, compact.reshape(labels.shape) - int(labels.min() < 0), -1)


def _within_known(lo: np.ndarray, hi: np.ndarray, footprints: np.ndarray | None, margin_m: float,
                  below_top: bool = False) -> np.ndarray:  # fmt: skip
    """Per (N, 3) box (lo, hi): does its x-y lie within one of the (M, 2, 3) ``footprints`` grown by ``margin_m``
    (and, with ``below_top``, its bottom lie under that footprint's top)? Within, not only over: a cluster
    that also holds something beyond (a chair's rail) would grow the track frame by frame."""
    if footprints is None or not len(footprints):
        return np.zeros(len(lo), dtype=bool)
    f_lo, f_hi = footprints[None, :, 0, :2] - margin_m, footprints[None, :, 1, :2] + margin_m
    inside = np.all((lo[:, None, :2] >= f_lo) & (hi[:, None, :2] <= f_hi), axis=2)
    if below_top:
        inside &= lo[:, None, 2] <= footprints[None, :, 1, 2]
    return np.any(inside, axis=1)


def _full_resolution_mask(
    cells: np.ndarray,
    s: int,
    points: np.ndarray,
    depth: np.ndarray,
    intrinsics: Intrinsics,
    T_world_camera: np.ndarray,
    plane: np.ndarray,
    config: PerceptionConfig,
) -> np.ndarray | None:
    """(H, W) mask of one cluster from its sub-grid ``cells``, worked out only in the cells' pixel window.

    A full-resolution pixel belongs to the object if its cell (grown by one) is the object's, its own depth
    is an object point (above the plane's noise band, below the height limit) and its point lies in the
    cluster's 3D box (no spill across occlusion edges). None when no pixel is left.
    """
    rows, cols = np.flatnonzero(cells.any(axis=1)), np.flatnonzero(cells.any(axis=0))
    y0, y1 = rows[0] * s, min((rows[-1] + 1) * s, depth.shape[0])
    x0, x1 = cols[0] * s, min((cols[-1] + 1) * s, depth.shape[1])
    block = cells[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    up = np.repeat(np.repeat(block, s, axis=0), s, axis=1)[: y1 - y0, : x1 - x0]
    d = depth[y0:y1, x0:x1]
    window = up & _object_pixels(d, intrinsics, T_world_camera, plane, config, (y0, x0))
    margin = config.cluster_eps_m / 2.0
    lo, hi = points.min(axis=0) - margin, points.max(axis=0) + margin
    T = np.asarray(T_world_camera, dtype=np.float64)
    u = (x0 + np.arange(x1 - x0) + 0.5 - intrinsics.cx) / intrinsics.fx
    v = (y0 + np.arange(y1 - y0) + 0.5 - intrinsics.cy) / intrinsics.fy
    with np.errstate(invalid="ignore"):
        for c in range(3):  # each world coordinate of every window pixel, d * (R[c] . ray) + t[c], in the box
            coord = d * (T[c, 0] * u[None, :] + T[c, 1] * v[:, None] + T[c, 2]) + T[c, 3]
            window &= (coord >= lo[c]) & (coord <= hi[c])
    if not window.any():
        return None
    mask = np.zeros(depth.shape, dtype=bool)
    mask[y0:y1, x0:x1] = window
    return mask


def cluster_radius(depth: np.ndarray, stride: int, intrinsics: Intrinsics, config: PerceptionConfig) -> np.ndarray:
    """Each point's DBSCAN radius (m) from its depth: ``max(cluster_eps_m, cluster_eps_spacings x spacing)``,
    where the spacing of the strided points there is ``stride x depth / fx``."""
    spacing = stride * np.asarray(depth, dtype=np.float64) / intrinsics.fx
    return np.maximum(config.cluster_eps_m, config.cluster_eps_spacings * spacing)


def min_points(radius: np.ndarray, config: PerceptionConfig) -> float:
    """The fewest points a cluster needs: ``min_object_points`` where points are ``cluster_eps_m`` apart or
    closer, fewer by the square of the radius where sparser points have a wider one (the same area)."""
    return config.min_object_points * (config.cluster_eps_m / float(np.median(radius))) ** 2


def cluster_points(points: np.ndarray, config: PerceptionConfig, radius: np.ndarray | None = None) -> np.ndarray:
    """DBSCAN labels (-1 noise) of ``points``, run on a voxel-thinned copy (speed) and mapped back.

    ``radius`` (per point, m; ``cluster_radius``) replaces the fixed ``cluster_eps_m``."""
    voxel = config.cluster_eps_m / 4.0
    keys = np.floor((points - points.min(axis=0)) / voxel).astype(np.int64)
    dims = keys.max(axis=0) + 1
    flat = (keys[:, 0] * dims[1] + keys[:, 1]) * dims[2] + keys[:, 2]
    _, first, inverse = np.unique(flat, return_index=True, return_inverse=True)
    eps = config.cluster_eps_m if radius is None else np.asarray(radius, dtype=np.float64)[first]
    labels = dbscan(points[first], eps, config.cluster_min_points)
    return merge_overlapping_clusters(points, labels[inverse.reshape(-1)])


def dbscan(points: np.ndarray, eps: float | np.ndarray, min_points: int) -> np.ndarray:
    """DBSCAN labels (-1 noise) of (N, 3) ``points``, the same as Open3D's ``cluster_dbscan`` gives.

    A point with at least ``min_points`` points (itself included) within ``eps`` is a core point; core points
    within ``eps`` of each other share a cluster; a border point joins the first cluster (clusters numbered
    by their lowest core index) that has a core point within ``eps``. ``eps`` may be one radius per point:
    two points are neighbours within the larger of their radii. One thread (a k-d tree's pairs and
    connected components): Open3D's OpenMP team waits for its slowest thread, which on a loaded 2-core
    machine took tens of ms of wall time for a 1 ms job.
    """
    n = len(points)
    labels = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return labels
    radius = np.broadcast_to(np.asarray(eps, dtype=np.float64), (n,))
    pairs = cKDTree(points).query_pairs(float(radius.max()), output_type="ndarray")
    if radius.min() < radius.max():  # per-point radii: keep the pairs within the larger of their two
        gap = np.linalg.norm(points[pairs[:, 0]] - points[pairs[:, 1]], axis=1)
        pairs = pairs[gap <= np.maximum(radius[pairs[:, 0]], radius[pairs[:, 1]])]
    a, b = pairs[:, 0], pairs[:, 1]
    core = np.bincount(pairs.reshape(-1), minlength=n) + 1 >= min_points
    core_idx = np.flatnonzero(core)
    if len(core_idx) == 0:
        return labels
    both = core[a] & core[b]
    graph = coo_matrix((np.ones(int(both.sum()), np.int8), (a[both], b[both])), shape=(n, n))
    comp = connected_components(graph, directed=False)[1]
    comps, first = np.unique(comp[core_idx], return_index=True)  # each cluster's lowest core index
    rank = np.empty(int(comp.max()) + 1, dtype=np.int64)
    rank[comps[np.argsort(core_idx[first], kind="stable")]] = np.arange(len(comps))
    labels[core_idx] = rank[comp[core_idx]]
    edge = core[a] != core[b]  # core - non-core pairs: border candidates
    core_end = np.where(core[a[edge]], a[edge], b[edge])
    other_end = np.where(core[a[edge]], b[edge], a[edge])
    best = np.full(n, n, dtype=np.int64)
    np.minimum.at(best, other_end, labels[core_end])
    border = ~core & (best < n)
    labels[border] = best[border]
    return labels


def merge_overlapping_clusters(points: np.ndarray, labels: np.ndarray, min_overlap: float = 0.25) -> np.ndarray:
    """Join clusters whose footprints largely overlap: pieces of one object split by self-occlusion.

    Two clusters merge when their world xy boxes overlap by at least ``min_overlap`` of the
    smaller box's area and their z ranges overlap. Neighbouring objects on a table share at
    most a corner of their boxes (touching ones are one DBSCAN cluster already).
    """
    labels = labels.copy()

    def overlaps(a: tuple, b: tuple) -> bool:
        lo, hi = np.maximum(a[0], b[0]), np.minimum(a[1], b[1])
        if np.any(hi < lo):
            return False
        inter = np.prod(hi[:2] - lo[:2])
        smaller = min(np.prod(a[1][:2] - a[0][:2]), np.prod(b[1][:2] - b[0][:2]))
        return bool(inter >= min_overlap * max(smaller, 1e-12))

    while True:
        n = int(labels.max()) + 1 if len(labels) else 0
        count, lo, hi, _ = _cluster_stats(labels, n, points, {})  # every box in one sort
        ids = [int(k) for k in np.flatnonzero(count)]
        boxes = {k: (lo[k], hi[k]) for k in ids}
        pair = next(((a, b) for i, a in enumerate(ids) for b in ids[i + 1 :] if overlaps(boxes[a], boxes[b])), None)
        if pair is None:
            break
        labels[labels == pair[1]] = pair[0]
    _, compact = np.unique(labels, return_inverse=True)  # renumber 0..n-1, noise stays -1
    return np.where(labels >= 0, compact.reshape(labels.shape) - int(labels.min() < 0), -1)


def _object_pixels(
    depth: np.ndarray,
    intrinsics: Intrinsics,
    T_world_camera: np.ndarray,
    plane: np.ndarray,
    config: PerceptionConfig,
    origin: tuple[int, int] = (0, 0),
) -> np.ndarray:
    """Pixels of a depth window (its top-left pixel at ``origin`` (row, col)) whose point lies above the plane's
    noise band and below the height limit."""
    T = np.asarray(T_world_camera, dtype=np.float64)
    n_cam = T[:3, :3].T @ plane[:3]  # plane normal in the camera frame
    offset = plane[:3] @ T[:3, 3] + plane[3]
    u = (origin[1] + np.arange(depth.shape[1]) + 0.5 - intrinsics.cx) / intrinsics.fx
    v = (origin[0] + np.arange(depth.shape[0]) + 0.5 - intrinsics.cy) / intrinsics.fy
    ray_dot = n_cam[0] * u[None, :] + n_cam[1] * v[:, None] + n_cam[2]
    with np.errstate(invalid="ignore"):
        height = depth * ray_dot + offset
        band = noise_threshold(depth, config)  # NaN where depth is: never above it
        return valid_depth(depth, config) & (height > band) & (height < config.max_object_height_m)


def segment_mask(
    mask_image: np.ndarray,
    depth: np.ndarray | None,
    intrinsics: Intrinsics,
    T_world_camera: np.ndarray,
    config: PerceptionConfig,
) -> Segmentation:
    """Objects from an instance-mask image (pixel value = instance id); 3D points from depth when given."""
    mask_image = np.asarray(mask_image)
    _check_inputs(mask_image, "mask", intrinsics)
    if mask_image.ndim != 2 or not np.issubdtype(mask_image.dtype, np.integer):
        raise ValueError(f"mask must be an (H, W) integer instance-id image, got {mask_image.dtype} {mask_image.shape}")
    if depth is not None:
        depth = np.asarray(depth)
        _check_inputs(depth, "depth", intrinsics)
        pts_full, d_full = backproject(depth, intrinsics, T_world_camera, 1)
        valid = valid_depth(d_full, config)
    ids = [int(i) for i in np.unique(mask_image) if int(i) not in config.ignore_mask_ids]
    detections = []
    for i in ids:
        m = mask_image == i
        if depth is None:
            points = np.zeros((0, 3))
        else:
            mv = m & valid
            points = pts_full[mv]
            if len(points) < config.min_object_points:
                continue  # an object without usable depth: nothing reliable to track
            step = max(1, len(points) // 4000)
            points = points[::step]
        detections.append(_detection(m, points, None, config, instance_id=i))
    return Segmentation(detections, None, None)
