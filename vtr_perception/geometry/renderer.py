"""Headless CPU renderer on Open3D's RaycastingScene: RGB, depth, instance mask and normals.

Open3D's OffscreenRenderer needs a display/EGL; ray casting runs anywhere. Rendering
many views at once (render_batch / render_arrays) batches their rays into few
``cast_rays`` calls, the fast path (training renders dozens of views per object).
Shading is Lambertian with a light at the camera (a "headlight" along the optical axis)
plus ambient, so the same surface looks the same from any view that faces it equally;
the background is BACKGROUND_RGB (white), as in training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vtr_perception.geometry.cameras import RENDER_DISTANCE, RENDER_FOV_DEG, Intrinsics, camera_from_angles
from vtr_perception.geometry.mesh import MeshData

# The training-data background; perception composites object crops onto it too.
BACKGROUND_RGB = (255, 255, 255)
RAYS_PER_CALL = 1 << 15


@dataclass
class RenderResult:
    """One rendered view.

    rgb: (H, W, 3) uint8. depth: (H, W) float32 metres along the optical z axis, NaN where
    nothing is hit. mask: (H, W) int32 instance ids, 0 background, mesh i -> i + 1.
    normals: (H, W, 3) float32 unit surface normals in the world frame, turned to face the
    camera, 0 where nothing is hit.
    """

    rgb: np.ndarray
    depth: np.ndarray
    mask: np.ndarray
    normals: np.ndarray


class Renderer:
    """A fixed set of meshes (world frame) rendered from any pinhole camera.

    Mesh ``i`` gets instance id ``i + 1``. Each is drawn in its per-vertex colours when it
    has them, else in ``mesh.color`` (RGB in [0, 1]).
    """

    def __init__(
        self,
        meshes: Sequence[MeshData],
        *,
        ambient: float = 0.35,
        diffuse: float = 0.65,
        background: tuple[int, int, int] = BACKGROUND_RGB,
    ) -> None:
        import open3d as o3d

        self.meshes = list(meshes)
        if not self.meshes:
            raise ValueError("the renderer needs at least one mesh")
        if ambient < 0 or diffuse < 0:
            raise ValueError(f"light intensities must be >= 0, got ambient={ambient} diffuse={diffuse}")
        self.ambient = float(ambient)
        self.diffuse = float(diffuse)
        self.background = np.asarray(background, dtype=np.float32).reshape(3)
        self._scene = o3d.t.geometry.RaycastingScene()
        tri_colors = []
        self._tri_offset = np.zeros(len(self.meshes) + 1, dtype=np.int64)
        for i, mesh in enumerate(self.meshes):
            mesh.validate()
            gid = self._scene.add_triangles(
                o3d.core.Tensor(np.ascontiguousarray(mesh.vertices, dtype=np.float32)),
                o3d.core.Tensor(np.ascontiguousarray(mesh.triangles, dtype=np.uint32)),
            )
            if gid != i:  # geometry ids are assigned in order; the instance mapping relies on it
                raise RuntimeError(f"unexpected Open3D geometry id {gid} for mesh {i}")
            tri_colors.append(_triangle_vertex_colors(mesh))
            self._tri_offset[i + 1] = self._tri_offset[i] + len(mesh.triangles)
        # (T, 3, 3): the colour of each corner of every triangle of every mesh, in [0, 1]
        self._tri_colors = np.concatenate(tri_colors).astype(np.float32)

    # -- cameras -------------------------------------------------------------------------

    def _check_camera(self, intrinsics: Intrinsics, T: np.ndarray) -> None:
        if intrinsics.width <= 0 or intrinsics.height <= 0:
            raise ValueError(f"image size must be positive, got {intrinsics.width}x{intrinsics.height}")
        if T.shape != (4, 4) or not np.isfinite(T).all():
            raise ValueError(f"T_world_camera must be a finite 4x4 transform, got shape {T.shape}")
        eye = T[:3, 3]
        for mesh in self.meshes:
            vmin, vmax = mesh.bounds
            if np.all(eye > vmin) and np.all(eye < vmax) and _point_inside(mesh, eye):
                raise ValueError(f"the camera at {np.round(eye, 4).tolist()} is inside mesh {mesh.name!r}")

    # -- rendering -----------------------------------------------------------------------

    def render(self, intrinsics: Intrinsics, T_world_camera: np.ndarray) -> RenderResult:
        """Render one view; ``T_world_camera`` maps the optical frame (z fwd, x right, y down) to the world."""
        T = np.asarray(T_world_camera, dtype=np.float64)
        if T.shape != (4, 4):
            raise ValueError(f"T_world_camera must be a 4x4 transform, got shape {T.shape}")
        return self.render_batch(intrinsics, T[None])[0]

    def render_batch(self, intrinsics: Intrinsics, T_world_cameras: np.ndarray) -> list[RenderResult]:
        """Render N views of the same intrinsics, their rays cast in batches."""
        rgb, depth, mask, normals = self.render_arrays(intrinsics, T_world_cameras)
        return [RenderResult(rgb[i], depth[i], mask[i], normals[i]) for i in range(len(rgb))]

    def render_arrays(
        self, intrinsics: Intrinsics, T_world_cameras: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Stacked (N, H, W, 3) rgb, (N, H, W) depth, (N, H, W) mask, (N, H, W, 3) normals."""
        Ts = np.asarray(T_world_cameras, dtype=np.float64)
        if Ts.ndim != 3 or Ts.shape[1:] != (4, 4):
            raise ValueError(f"T_world_cameras must have shape (N, 4, 4), got {Ts.shape}")
        for T in Ts:
            self._check_camera(intrinsics, T)
        # Views go through cast_rays in chunks of about RAYS_PER_CALL rays: one call per view
        # wastes time per call, one huge call loses to cache misses (measured: benchmarks/geometry.py).
        chunk = max(1, RAYS_PER_CALL // (intrinsics.width * intrinsics.height))
        parts = [self._render_views(intrinsics, Ts[i : i + chunk]) for i in range(0, len(Ts), chunk)]
        if len(parts) == 1:
            return parts[0]
        return tuple(np.concatenate(arrays) for arrays in zip(*parts, strict=True))  # type: ignore[return-value]

    def _render_views(
        self, intrinsics: Intrinsics, Ts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        import open3d as o3d

        n, h, w = len(Ts), intrinsics.height, intrinsics.width
        hw = h * w
        # Ray directions with optical z = 1, so Open3D's t_hit is the depth along the optical axis.
        dirs_cam = intrinsics.pixel_rays().reshape(-1, 3).astype(np.float32)
        R_t = np.ascontiguousarray(np.swapaxes(Ts[:, :3, :3], 1, 2), dtype=np.float32)
        rays = np.empty((n, hw, 6), dtype=np.float32)
        np.matmul(dirs_cam[None], R_t, out=rays[..., 3:])
        rays[..., :3] = Ts[:, None, :3, 3].astype(np.float32)
        out = self._scene.cast_rays(o3d.core.Tensor.from_numpy(rays.reshape(-1, 6)))
        t_hit = out["t_hit"].numpy()
        idx = np.flatnonzero(np.isfinite(t_hit))  # flat (view * hw + pixel) indices of the hits
        depth = np.full(n * hw, np.nan, dtype=np.float32)
        depth[idx] = t_hit[idx]
        geom = out["geometry_ids"].numpy()[idx].astype(np.int64)
        mask = np.zeros(n * hw, dtype=np.int32)
        mask[idx] = geom + 1

        normals = np.zeros((n * hw, 3), dtype=np.float32)
        rgb = np.empty((n * hw, 3), dtype=np.uint8)
        rgb[:] = np.rint(self.background).astype(np.uint8)
        if len(idx):
            n_hit = out["primitive_normals"].numpy()[idx]
            d_hit = rays.reshape(-1, 6)[idx, 3:]
            # Face the camera whatever the triangle winding.
            n_hit *= np.where((n_hit * d_hit).sum(axis=1) > 0, -1.0, 1.0).astype(np.float32)[:, None]
            normals[idx] = n_hit
            tri = self._tri_offset[geom] + out["primitive_ids"].numpy()[idx].astype(np.int64)
            uv = out["primitive_uvs"].numpy()[idx]
            corners = self._tri_colors[tri]  # (P, 3 corners, 3 channels)
            albedo = (
                corners[:, 0] * (1.0 - uv[:, :1] - uv[:, 1:]) + corners[:, 1] * uv[:, :1] + corners[:, 2] * uv[:, 1:]
            )
            # Headlight along each camera's optical axis: -z_cam in the world.
            light = -Ts[:, :3, 2].astype(np.float32)[idx // hw]
            lambert = np.clip((n_hit * light).sum(axis=1), 0.0, 1.0)
            shade = self.ambient + self.diffuse * lambert
            rgb[idx] = np.rint(np.clip(albedo * shade[:, None], 0.0, 1.0) * 255.0).astype(np.uint8)
        return rgb.reshape(n, h, w, 3), depth.reshape(n, h, w), mask.reshape(n, h, w), normals.reshape(n, h, w, 3)


def _triangle_vertex_colors(mesh: MeshData) -> np.ndarray:
    """(T, 3, 3) colour of each triangle corner in [0, 1]."""
    if mesh.vertex_colors is not None:
        vc = np.asarray(mesh.vertex_colors, dtype=np.float64)
        if vc.shape != mesh.vertices.shape:
            raise ValueError(f"mesh {mesh.name!r}: vertex_colors shape {vc.shape} != vertices {mesh.vertices.shape}")
        if vc.max(initial=0.0) > 1.0:  # 0..255 colours
            vc = vc / 255.0
        return vc[mesh.triangles]
    color = np.clip(np.asarray(mesh.color, dtype=np.float64).reshape(3), 0.0, 1.0)
    return np.broadcast_to(color, (len(mesh.triangles), 3, 3))


def _point_inside(mesh: MeshData, point: np.ndarray) -> bool:
    """Whether ``point`` is inside any closed part of ``mesh`` (per part: parts may overlap)."""
    from vtr_perception.geometry.voxels import _occupancy_of_closed

    for part in mesh.part_meshes():
        vmin, vmax = part.bounds
        if np.all(point > vmin) and np.all(point < vmax):
            if _occupancy_of_closed(part.vertices, part.triangles, point[None], nsamples=3)[0]:
                return True
    return False


def render_object_views(
    mesh: MeshData,
    azimuth_deg: np.ndarray | Sequence[float] | float,
    elevation_deg: np.ndarray | Sequence[float] | float,
    *,
    size: int = 64,
    distance: float = RENDER_DISTANCE,
    fov_deg: float = RENDER_FOV_DEG,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Intrinsics]:
    """Object-centred views of a mesh already in its canonical cube, as training renders them.

    Returns images (N, S, S, 3) uint8 on the white background, masks (N, S, S) bool,
    T_world_cameras (N, 4, 4) (world = the canonical frame) and the intrinsics.
    """
    az = np.atleast_1d(np.asarray(azimuth_deg, dtype=np.float64))
    el = np.atleast_1d(np.asarray(elevation_deg, dtype=np.float64))
    if az.shape != el.shape or az.ndim != 1:
        raise ValueError(f"azimuth and elevation must be matching 1-D arrays, got {az.shape} and {el.shape}")
    if int(size) != size or size < 1:
        raise ValueError(f"image size must be a positive integer, got {size!r}")
    intrinsics = Intrinsics.from_fov(int(size), int(size), fov_deg)
    Ts = camera_from_angles(az, el, distance)
    rgb, _, mask, _ = Renderer([mesh]).render_arrays(intrinsics, Ts)
    return rgb, mask > 0, Ts, intrinsics
