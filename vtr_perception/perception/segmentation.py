"""Per-object segmentation of one frame: depth table-top (plane + DBSCAN) or an instance-mask image.

Both paths return ``Detection`` values: a full-resolution pixel mask, the object's 3D points
in the world frame (empty without depth), its world-axis bounding box and whether the image
border cuts it (a cut object's view must not enter the view buffer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import open3d as o3d
from scipy import ndimage

from vtr_perception.geometry.cameras import Intrinsics
from vtr_perception.perception.config import PerceptionConfig


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
        ys, xs = np.nonzero(self.mask)
        return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


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


def _detection(mask: np.ndarray, points: np.ndarray, plane: np.ndarray | None, config: PerceptionConfig,
               instance_id: int | None = None) -> Detection:
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
    """World points of every ``stride``-th pixel: returns (points (h, w, 3), depth (h, w)) on that sub-grid."""
    d = depth[::stride, ::stride].astype(np.float64)
    d[~np.isfinite(d)] = np.nan  # inf * 0 in the products below would warn
    v = np.arange(0, depth.shape[0], stride) + 0.5
    u = np.arange(0, depth.shape[1], stride) + 0.5
    rays = np.stack(np.broadcast_arrays(((u - intrinsics.cx) / intrinsics.fx)[None, :],
                                        ((v - intrinsics.cy) / intrinsics.fy)[:, None],
                                        np.ones((1, 1))), axis=-1)
    with np.errstate(invalid="ignore"):
        pts_cam = rays * d[..., None]
    T = np.asarray(T_world_camera, dtype=np.float64)
    return pts_cam @ T[:3, :3].T + T[:3, 3], d


def _check_inputs(image: np.ndarray, name: str, intrinsics: Intrinsics) -> None:
    if image.shape[:2] != (intrinsics.height, intrinsics.width):
        raise ValueError(
            f"{name} is {image.shape[1]}x{image.shape[0]} but the intrinsics are "
            f"{intrinsics.width}x{intrinsics.height}"
        )


def segment_depth(depth: np.ndarray, intrinsics: Intrinsics, T_world_camera: np.ndarray,
                  config: PerceptionConfig) -> Segmentation:
    """Table-top segmentation: remove the dominant plane (RANSAC), cluster the rest (DBSCAN)."""
    depth = np.asarray(depth)
    _check_inputs(depth, "depth", intrinsics)
    s = int(config.pixel_stride)
    pts_grid, d_grid = backproject(depth, intrinsics, T_world_camera, s)
    valid = valid_depth(d_grid, config)
    n_valid = int(valid.sum())
    if n_valid < max(3 * config.min_object_points, 30):
        return Segmentation([], None, "no_valid_depth")
    pts = pts_grid[valid]
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts))
    o3d.utility.random.seed(0)  # RANSAC: the same frame always gives the same plane
    plane, inliers = cloud.segment_plane(config.plane_distance_m, 3, config.plane_iterations)
    plane = np.asarray(plane, dtype=np.float64)
    if len(inliers) < config.plane_min_fraction * n_valid:
        return Segmentation([], None, "no_support_plane")
    plane = plane / np.linalg.norm(plane[:3])
    cam = np.asarray(T_world_camera, dtype=np.float64)[:3, 3]
    if plane[:3] @ cam + plane[3] < 0:  # normal towards the camera: objects are on the positive side
        plane = -plane
    height = pts @ plane[:3] + plane[3]
    above = (height > config.plane_distance_m) & (height < config.max_object_height_m)
    obj_pts = pts[above]
    if len(obj_pts) < config.min_object_points:
        return Segmentation([], plane, None)
    labels_obj = np.asarray(
        o3d.geometry.PointCloud(o3d.utility.Vector3dVector(obj_pts)).cluster_dbscan(
            config.cluster_eps_m, config.cluster_min_points
        )
    )
    label_grid = np.full(valid.shape, -1, dtype=np.int32)
    flat = np.flatnonzero(valid.reshape(-1))[above]
    label_grid.reshape(-1)[flat] = labels_obj
    # Full-resolution masks: each labelled sub-grid cell covers its stride block (grown by one
    # block so edges are kept); a full-res pixel belongs to the object if its own depth is an
    # object point (valid, above the plane, below the height limit).
    object_px = _object_pixels(depth, intrinsics, T_world_camera, plane, config)
    grown = ndimage.grey_dilation(label_grid + 1, size=(3, 3)) - 1
    up = np.repeat(np.repeat(grown, s, axis=0), s, axis=1)[: depth.shape[0], : depth.shape[1]]
    detections = []
    for k in range(int(labels_obj.max()) + 1 if len(labels_obj) else 0):
        sel = labels_obj == k
        if sel.sum() < config.min_object_points:
            continue
        mask = (up == k) & object_px
        if not mask.any():
            continue
        detections.append(_detection(mask, obj_pts[sel], plane, config))
    return Segmentation(detections, plane, None)


def _object_pixels(depth: np.ndarray, intrinsics: Intrinsics, T_world_camera: np.ndarray, plane: np.ndarray,
                   config: PerceptionConfig) -> np.ndarray:
    """(H, W) pixels whose point lies between the plane margin and the height limit (full resolution)."""
    T = np.asarray(T_world_camera, dtype=np.float64)
    n_cam = T[:3, :3].T @ plane[:3]  # plane normal in the camera frame
    offset = plane[:3] @ T[:3, 3] + plane[3]
    u = (np.arange(intrinsics.width) + 0.5 - intrinsics.cx) / intrinsics.fx
    v = (np.arange(intrinsics.height) + 0.5 - intrinsics.cy) / intrinsics.fy
    ray_dot = n_cam[0] * u[None, :] + n_cam[1] * v[:, None] + n_cam[2]
    with np.errstate(invalid="ignore"):
        height = depth * ray_dot + offset
        return valid_depth(depth, config) & (height > config.plane_distance_m) & (
            height < config.max_object_height_m)


def segment_mask(mask_image: np.ndarray, depth: np.ndarray | None, intrinsics: Intrinsics,
                 T_world_camera: np.ndarray, config: PerceptionConfig) -> Segmentation:
    """Objects from an instance-mask image (pixel value = instance id); 3D points from depth when given."""
    mask_image = np.asarray(mask_image)
    _check_inputs(mask_image, "mask", intrinsics)
    if mask_image.ndim != 2 or not np.issubdtype(mask_image.dtype, np.integer):
        raise ValueError(f"mask must be an (H, W) integer instance-id image, got {mask_image.dtype} "
                         f"{mask_image.shape}")
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
