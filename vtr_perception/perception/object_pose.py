"""Turn a reconstructor output into a posed, metric object in the world frame.

Pose-aware mode: the grid is axis-aligned with the world and covers the canonical cube of
the object (centre ``c``, longest side ``L`` as estimated from depth or a size prior, which is
how the views were cropped). Metric scale = L / (longest side of the reconstruction in cube
units); translation puts the reconstruction's bounding-box centre on ``c``; then ICP
(point-to-point) registers the observed depth points onto the reconstructed surface and the
inverse correction is applied to the reconstruction (observed -> model is the right direction
for partial observations: every observed point has a true surface point near it, not the
other way round). Corrections larger than the configured limits are rejected.

The object frame sits at the reconstruction's bounding-box centre, z up (world z), x along the
principal horizontal axis (its sign is arbitrary: x . world x >= 0) of the fused depth points
(``axis_source`` "observed", the default when the track has depth), of the reconstruction's
occupied voxels ("reconstruction", used without depth) or of both; the depth points follow
the true object more closely than an imperfect reconstruction does.
By default (``icp_mode`` "rotation") ICP corrects only the orientation, about the observed
centre: the measured centre is more reliable than what ICP's translation makes of an
imperfect reconstruction ("full" for an accurate model).

Canonical mode: each view's pose head gives the camera's azimuth/elevation in the object's
canonical frame, so R_world_object = R_world_virtualcamera @ R_canonical_camera^T per view;
the views are fused by a chordal L2 mean projected onto SO(3), re-averaged without views
farther than ``rotation_outlier_deg`` from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import open3d as o3d

from vtr_perception.geometry.cameras import (
    matrix_from_quaternion,
    quaternion_from_matrix,
    rotation_angle_deg,
    rotation_from_angles,
)
from vtr_perception.geometry.meshing import grid_to_mesh
from vtr_perception.geometry.voxels import voxel_centers
from vtr_perception.perception.config import PerceptionConfig
from vtr_perception.perception.fusion import below_support, fuse
from vtr_perception.perception.reference_frame import Cube, resample_cube


@dataclass
class ObjectEstimate:
    """Everything known about one object after its latest reconstruction (world frame, metres)."""

    id: int
    vertices: np.ndarray  # (N, 3) mesh in the world frame
    triangles: np.ndarray  # (M, 3)
    position: np.ndarray  # (3,) object frame origin
    quaternion: np.ndarray  # (4,) x, y, z, w of R_world_object
    scale: float  # metres per canonical unit (the object's longest side)
    occupancy: np.ndarray  # (R, R, R) probabilities, grid axes = columns of grid_rotation
    error: np.ndarray  # (R, R, R) predicted |truth - occupancy|
    grid_center: np.ndarray  # (3,) world centre of the grid cube
    grid_extent: float  # side of the grid cube (m)
    grid_rotation: np.ndarray  # (3, 3) R_world_grid (identity in pose-aware mode up to the ICP correction)
    num_views: int
    last_update: float
    mode: str
    icp_fitness: float = 0.0
    surface_threshold: float = 0.4  # the occupancy level of the mesh (below the configured one: an unsure model)
    view_pose: np.ndarray | None = None
    state: np.ndarray | None = None  # (R, R, R) uint8 0 unknown / 1 free / 2 occupied (perception/fusion.py)
    frames_skipped: int = 0
    skip_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def rotation(self) -> np.ndarray:
        return matrix_from_quaternion(self.quaternion)


def grid_mesh(occupancy: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Marching-cubes surface (geometry.meshing) in canonical-cube coordinates ([-0.5, 0.5]^3)."""
    mesh = grid_to_mesh(occupancy, threshold)
    return mesh.vertices, mesh.triangles


def occupied_centers(occupancy: np.ndarray, threshold: float) -> np.ndarray:
    """(N, 3) canonical-cube centres of the voxels at or above ``threshold``."""
    return voxel_centers(occupancy.shape[0])[occupancy >= threshold]


def principal_frame(points_world: np.ndarray) -> np.ndarray:
    """R_world_object: z = world up, x = principal axis of the points' xy (sign: x . world x >= 0)."""
    xy = points_world[:, :2] - points_world[:, :2].mean(axis=0)
    if len(xy) < 3:
        return np.eye(3)
    w, v = np.linalg.eigh(xy.T @ xy)
    a = v[:, np.argmax(w)]
    if a[0] < 0 or (abs(a[0]) < 1e-9 and a[1] < 0):
        a = -a
    x = np.array([a[0], a[1], 0.0])
    z = np.array([0.0, 0.0, 1.0])
    return np.stack([x, np.cross(z, x), z], axis=1)


def angles_from_view_pose(view_pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(azimuth_deg, elevation_deg) from pose-head outputs (..., 4) = sin az, cos az, sin el, cos el."""
    vp = np.asarray(view_pose, dtype=np.float64)
    return np.degrees(np.arctan2(vp[..., 0], vp[..., 1])), np.degrees(np.arctan2(vp[..., 2], vp[..., 3]))


def project_to_so3(M: np.ndarray) -> np.ndarray:
    U, _, Vt = np.linalg.svd(M)
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))])
    return U @ D @ Vt


def average_rotations(rotations: np.ndarray, *, outlier_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Robust chordal L2 mean of (N, 3, 3) rotations: (mean, inlier mask)."""
    R = np.asarray(rotations, dtype=np.float64)
    mean = project_to_so3(R.sum(axis=0))
    for _ in range(3):
        dist = np.array([rotation_angle_deg(mean, r) for r in R])
        inliers = dist <= outlier_deg
        if not inliers.any():
            inliers = dist <= dist.min() + 1e-9  # all disagree: trust the view closest to the mean
        mean = project_to_so3(R[inliers].sum(axis=0))
    dist = np.array([rotation_angle_deg(mean, r) for r in R])
    return mean, dist <= max(outlier_deg, dist.min() + 1e-9)


def fuse_canonical_rotation(
    view_pose: np.ndarray, R_world_cameras: np.ndarray, *, outlier_deg: float
) -> tuple[np.ndarray, np.ndarray]:
    """R_world_object from per-view pose-head angles and the known (virtual) camera rotations."""
    az, el = angles_from_view_pose(view_pose)
    R_canonical_camera = rotation_from_angles(az, el)
    per_view = np.asarray(R_world_cameras, dtype=np.float64) @ np.swapaxes(R_canonical_camera, -1, -2)
    return average_rotations(per_view, outlier_deg=outlier_deg)


def _icp(
    observed: np.ndarray, surface: np.ndarray, size: float, center: np.ndarray, config: PerceptionConfig
) -> tuple[np.ndarray, float]:
    """4x4 correction to apply to the reconstruction (identity when ICP is rejected), and the fitness.

    With ``icp_mode`` "rotation" only the turn is kept, applied about the observed centre: an
    imperfect reconstructed shape pulls ICP's translation off by about a centimetre, while the
    fused depth box centre is within millimetres after a few views (benchmarks/perception.py).
    """
    if config.icp_mode == "off" or len(observed) < 20 or len(surface) < 20:
        return np.eye(4), 0.0
    src = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(observed[:: max(1, len(observed) // 1000)]))
    dst = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(surface[:: max(1, len(surface) // 4000)]))
    result = o3d.pipelines.registration.registration_icp(
        src,
        dst,
        config.icp_max_distance_frac * size,
        np.eye(4),
        o3d.pipelines.registration.TransformationEstimationPointToPoint(),
        o3d.pipelines.registration.ICPConvergenceCriteria(max_iteration=config.icp_iterations),
    )
    T = np.asarray(result.transformation)
    if (
        result.fitness < 0.3
        or rotation_angle_deg(T, np.eye(4)) > config.icp_max_correction_deg
        or np.linalg.norm(T[:3, 3]) > 0.25 * size
    ):
        return np.eye(4), float(result.fitness)
    correction = np.linalg.inv(T)
    if config.icp_mode == "rotation":
        correction[:3, 3] = center - correction[:3, :3] @ center
    return correction, float(result.fitness)


def estimate_object(
    *,
    track_id: int,
    outputs: dict[str, np.ndarray],
    mode: str,
    center: np.ndarray,
    size: float,
    observed_points: np.ndarray,
    R_world_cameras: np.ndarray,
    num_views: int,
    stamp: float,
    config: PerceptionConfig,
    evidence: np.ndarray | None = None,
    floor_z: float = np.inf,
) -> ObjectEstimate:
    """Place one object's reconstruction (batch row 0 of ``outputs``) in the world frame.

    ``evidence``: measured log-odds (perception/evidence.py) in the world-aligned cube of ``center``
    and ``size``; the network's occupancy is then fused with it (perception/fusion.py) and the
    posterior is what is meshed and published. A fused grid is registered to the depth already, so
    ICP is skipped. In canonical mode the evidence is resampled into the pose head's rotated grid.
    """
    occupancy = np.asarray(outputs["occupancy"])[0].astype(np.float32)
    error = np.asarray(outputs["error"])[0].astype(np.float32)
    view_pose = np.asarray(outputs["view_pose"])[0] if "view_pose" in outputs else None
    fused = evidence is not None and not config.fit_to_observed_size
    thr = config.occupancy_threshold
    peak = float(occupancy.max()) if occupancy.size else 0.0
    if peak < thr and config.fallback_threshold_frac > 0 and peak > 0.05:
        thr = config.fallback_threshold_frac * peak  # an unsure model: still place its most likely shape
    if mode == "canonical":
        if view_pose is None:
            raise ValueError("canonical mode needs the pose head output 'view_pose'")
        R_grid, _ = fuse_canonical_rotation(view_pose, R_world_cameras, outlier_deg=config.rotation_outlier_deg)
    else:
        R_grid = np.eye(3)
    state = None
    if fused:
        occupancy, error, state = _fuse(occupancy, error, evidence, R_grid, center, size, floor_z, config)
        thr = config.occupancy_threshold
    centers_c = occupied_centers(occupancy, thr)
    recon_size, mid = _reconstruction_extent(centers_c, occupancy.shape[0], R_grid, config)
    scale = size / float(np.clip(recon_size, 0.75, 1.33))
    S = np.eye(4)  # canonical cube -> world (similarity)
    S[:3, :3] = scale * R_grid
    S[:3, 3] = np.asarray(center, dtype=np.float64) - scale * R_grid @ mid

    verts_c, tris = grid_mesh(occupancy, thr)
    verts = verts_c @ S[:3, :3].T + S[:3, 3]
    correction, fitness = (np.eye(4), 0.0) if fused else _icp(np.asarray(observed_points), verts, size,
                                                               np.asarray(center, float), config)  # fmt: skip
    total = correction @ S
    verts = verts_c @ total[:3, :3].T + total[:3, 3]
    occupied_world = centers_c @ total[:3, :3].T + total[:3, 3]
    position = total[:3, :3] @ mid + total[:3, 3]
    R_corr = correction[:3, :3]
    R_world_object = R_corr @ R_grid if mode == "canonical" else _object_axes(observed_points, occupied_world, config)
    grid_center = total[:3, 3]  # the cube centre (canonical origin) in the world
    return ObjectEstimate(
        id=track_id,
        vertices=verts,
        triangles=tris,
        position=position,
        quaternion=quaternion_from_matrix(R_world_object),
        scale=scale,
        occupancy=occupancy,
        error=error,
        grid_center=grid_center,
        grid_extent=scale,
        grid_rotation=R_corr @ R_grid,
        num_views=num_views,
        last_update=float(stamp),
        mode=mode,
        icp_fitness=fitness,
        view_pose=view_pose,
        state=state,
        surface_threshold=thr,
    )


def _reconstruction_extent(centers_c: np.ndarray, R: int, R_grid: np.ndarray, config: PerceptionConfig):
    """The reconstruction's longest side in world axes and its bounding-box middle (canonical units), when its
    size is fitted to the observed one; else the whole cube (1, origin)."""
    if not (len(centers_c) and config.fit_to_observed_size):
        return 1.0, np.zeros(3)
    lo, hi = centers_c.min(axis=0) - 0.5 / R, centers_c.max(axis=0) + 0.5 / R
    # in canonical mode the grid is rotated: measure its box's corners in world axes
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    extent_world_axes = (corners @ R_grid.T).max(axis=0) - (corners @ R_grid.T).min(axis=0)
    return float(extent_world_axes.max()), 0.5 * (lo + hi)


def _object_axes(observed_points, occupied_world: np.ndarray, config: PerceptionConfig) -> np.ndarray:
    """A pose-aware object's axes: principal axes of the observed points, the reconstruction's or both."""
    observed = np.asarray(observed_points)
    if config.axis_source == "observed" and len(observed) >= 50:
        return principal_frame(observed)
    if config.axis_source == "both" and len(observed) >= 50 and len(occupied_world):
        return principal_frame(np.vstack([occupied_world, observed]))
    return principal_frame(occupied_world) if len(occupied_world) else np.eye(3)


def _fuse(occupancy, error, evidence, R_grid, center, size, floor_z, config):
    """(posterior occupancy, uncertainty, state) in the network's grid (``R_grid`` axes, ``size`` side)."""
    res = occupancy.shape[0]
    center = np.asarray(center, dtype=np.float64)
    evidence = np.asarray(evidence, dtype=np.float32)
    free = below_support(center, size, res, floor_z)
    if not np.allclose(R_grid, np.eye(3), atol=1e-6):  # canonical mode: into the pose head's grid
        world, grid = Cube(center, size, np.eye(3)), Cube(center, size, R_grid)
        evidence = resample_cube(np.where(free, config.evidence_min_logodds, evidence), world, grid)
        free = None
    posterior = fuse(occupancy, error, evidence, config, free_mask=free)
    return posterior.occupancy, posterior.uncertainty, posterior.state
