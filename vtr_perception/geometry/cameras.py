"""Pinhole cameras and poses: the one home of the frame conventions.

Frames follow REP 103/105:
- camera optical frame: z forward, x right, y down;
- world (and object canonical) frame: z up.

A camera pose is ``T_world_camera`` (4x4): it maps points in the camera optical frame
into the world frame. Viewpoints around a target are given by azimuth (degrees,
counter-clockwise about world z from +x), elevation (degrees above the xy-plane) and
distance; such cameras look at the target with no in-plane roll (image "up" is world up).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Render set-up for object-centred views in the canonical cube (longest side 1):
# at this distance and field of view the cube's bounding sphere (radius sqrt(3)/2)
# fits in the image from any direction, so every view shows the whole object.
RENDER_DISTANCE = 2.0
RENDER_FOV_DEG = 52.0


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics of an undistorted image, in pixels."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"image size must be positive, got {self.width}x{self.height}")
        if not (np.isfinite(self.fx) and np.isfinite(self.fy) and self.fx > 0 and self.fy > 0):
            raise ValueError(f"focal lengths must be positive and finite, got fx={self.fx} fy={self.fy}")

    @classmethod
    def from_fov(cls, width: int, height: int, fov_deg: float) -> Intrinsics:
        """Square pixels, principal point at the image centre, horizontal field of view."""
        if not 0.0 < fov_deg < 180.0:
            raise ValueError(f"field of view must be in (0, 180) degrees, got {fov_deg}")
        f = 0.5 * width / np.tan(np.radians(fov_deg) / 2.0)
        return cls(fx=f, fy=f, cx=width / 2.0, cy=height / 2.0, width=int(width), height=int(height))

    @classmethod
    def from_matrix(cls, K: np.ndarray, width: int, height: int) -> Intrinsics:
        K = np.asarray(K, dtype=np.float64).reshape(3, 3)
        return cls(fx=K[0, 0], fy=K[1, 1], cx=K[0, 2], cy=K[1, 2], width=int(width), height=int(height))

    @classmethod
    def from_camera_info(cls, k: list[float] | np.ndarray, width: int, height: int) -> Intrinsics:
        """From sensor_msgs/CameraInfo fields (``k`` is the row-major 3x3 matrix)."""
        k = np.asarray(k, dtype=np.float64)
        if k.size != 9:
            raise ValueError(f"CameraInfo.k must have 9 elements, got {k.size}")
        return cls.from_matrix(k.reshape(3, 3), width, height)

    def to_camera_info(self) -> dict:
        """The sensor_msgs/CameraInfo fields for this undistorted camera (plain Python values)."""
        K = self.K
        P = np.zeros((3, 4))
        P[:, :3] = K
        return {
            "width": self.width,
            "height": self.height,
            "distortion_model": "plumb_bob",
            "d": [0.0] * 5,
            "k": K.reshape(-1).tolist(),
            "r": np.eye(3).reshape(-1).tolist(),
            "p": P.reshape(-1).tolist(),
        }

    @property
    def K(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def scaled(self, width: int, height: int) -> Intrinsics:
        """The same camera seen at another resolution."""
        sx, sy = width / self.width, height / self.height
        return Intrinsics(self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy, int(width), int(height))

    def cropped(self, x0: float, y0: float, width: int, height: int) -> Intrinsics:
        """The camera of the sub-image whose top-left pixel corner is (x0, y0)."""
        return Intrinsics(self.fx, self.fy, self.cx - x0, self.cy - y0, int(width), int(height))

    def pixel_rays(self) -> np.ndarray:
        """(H, W, 3) ray directions through pixel centres in the optical frame, z = 1."""
        u = np.arange(self.width) + 0.5
        v = np.arange(self.height) + 0.5
        uu, vv = np.meshgrid(u, v)
        return np.stack([(uu - self.cx) / self.fx, (vv - self.cy) / self.fy, np.ones_like(uu)], axis=-1)

    def project(self, points_camera: np.ndarray) -> np.ndarray:
        """(N, 3) points in the optical frame -> (N, 2) pixel coordinates (u, v)."""
        p = np.asarray(points_camera, dtype=np.float64)
        z = p[:, 2:3]
        return np.concatenate([self.fx * p[:, :1] / z + self.cx, self.fy * p[:, 1:2] / z + self.cy], axis=1)


def _normalized(v: np.ndarray, what: str) -> np.ndarray:
    n = np.linalg.norm(v)
    if not np.isfinite(n) or n < 1e-12:
        raise ValueError(f"{what} is degenerate (zero length or not finite)")
    return v / n


def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray = (0.0, 0.0, 1.0)) -> np.ndarray:
    """T_world_camera of an optical-frame camera at ``eye`` looking at ``target``.

    Image "up" (-y) is as close to ``up`` as the view allows. Looking straight along
    ``up`` leaves the roll undefined; a fixed right axis is picked so the result is defined.
    """
    eye = np.asarray(eye, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    z = _normalized(target - eye, "look_at: eye equals target;")
    up = np.asarray(up, dtype=np.float64)
    x = np.cross(z, up)
    if np.linalg.norm(x) < 1e-9:  # looking along up: any right axis will do, pick a fixed one
        x = np.cross(z, np.array([1.0, 0.0, 0.0]))
        if np.linalg.norm(x) < 1e-9:
            x = np.cross(z, np.array([0.0, 1.0, 0.0]))
    x = x / np.linalg.norm(x)
    y = np.cross(z, x)
    T = np.eye(4)
    T[:3, 0], T[:3, 1], T[:3, 2], T[:3, 3] = x, y, z, eye
    return T


def direction_from_angles(azimuth_deg: np.ndarray | float, elevation_deg: np.ndarray | float) -> np.ndarray:
    """Unit vector(s) from the target towards the camera, shape (..., 3)."""
    az = np.radians(np.asarray(azimuth_deg, dtype=np.float64))
    el = np.radians(np.asarray(elevation_deg, dtype=np.float64))
    return np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=-1)


def rotation_from_angles(
    azimuth_deg: np.ndarray | float, elevation_deg: np.ndarray | float, roll_deg: np.ndarray | float = 0.0
) -> np.ndarray:
    """R_world_camera (..., 3, 3) of cameras looking at the target from these angles.

    Closed form, so it is defined at the poles too: image right is the azimuth tangent
    (-sin az, cos az, 0), which keeps image up = world up and varies smoothly with azimuth.
    ``roll_deg`` rotates the image about the optical axis (clockwise in the image).
    """
    az = np.radians(np.asarray(azimuth_deg, dtype=np.float64))
    d = direction_from_angles(azimuth_deg, elevation_deg)
    z = -d
    x = np.stack([-np.sin(az), np.cos(az), np.zeros_like(az)], axis=-1)
    y = np.cross(z, x)
    R = np.stack([x, y, z], axis=-1)
    roll = np.radians(np.asarray(roll_deg, dtype=np.float64))
    if np.any(roll != 0.0):
        c, s = np.cos(roll), np.sin(roll)
        Rz = np.zeros(np.broadcast(c, s).shape + (3, 3))
        Rz[..., 0, 0], Rz[..., 0, 1], Rz[..., 1, 0], Rz[..., 1, 1], Rz[..., 2, 2] = c, -s, s, c, 1.0
        R = R @ Rz
    return R


def camera_from_angles(
    azimuth_deg: np.ndarray | float,
    elevation_deg: np.ndarray | float,
    distance: np.ndarray | float = RENDER_DISTANCE,
    target: np.ndarray = (0.0, 0.0, 0.0),
    roll_deg: np.ndarray | float = 0.0,
) -> np.ndarray:
    """T_world_camera (..., 4, 4) for viewpoints on a sphere around ``target``."""
    R = rotation_from_angles(azimuth_deg, elevation_deg, roll_deg)
    d = direction_from_angles(azimuth_deg, elevation_deg)
    dist = np.asarray(distance, dtype=np.float64)[..., None]
    T = np.zeros(R.shape[:-2] + (4, 4))
    T[..., :3, :3] = R
    T[..., :3, 3] = np.asarray(target, dtype=np.float64) + dist * d
    T[..., 3, 3] = 1.0
    return T


def angles_from_camera(T_world_camera: np.ndarray, target: np.ndarray = (0.0, 0.0, 0.0)) -> tuple:
    """(azimuth_deg in [0, 360), elevation_deg, distance) of camera position(s) around ``target``."""
    T = np.asarray(T_world_camera, dtype=np.float64)
    v = T[..., :3, 3] - np.asarray(target, dtype=np.float64)
    dist = np.linalg.norm(v, axis=-1)
    el = np.degrees(np.arcsin(np.clip(v[..., 2] / np.maximum(dist, 1e-12), -1.0, 1.0)))
    az = np.degrees(np.arctan2(v[..., 1], v[..., 0])) % 360.0
    return az, el, dist


def invert(T: np.ndarray) -> np.ndarray:
    """Inverse of rigid transform(s) (..., 4, 4)."""
    T = np.asarray(T, dtype=np.float64)
    R, t = T[..., :3, :3], T[..., :3, 3]
    Ti = np.zeros_like(T)
    Rt = np.swapaxes(R, -1, -2)
    Ti[..., :3, :3] = Rt
    Ti[..., :3, 3] = -(Rt @ t[..., None])[..., 0]
    Ti[..., 3, 3] = 1.0
    return Ti


def transform_points(T: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 4x4 transform to (N, 3) points."""
    T = np.asarray(T, dtype=np.float64)
    return np.asarray(points, dtype=np.float64) @ T[:3, :3].T + T[:3, 3]


def quaternion_from_matrix(R: np.ndarray) -> np.ndarray:
    """(x, y, z, w) unit quaternion of a rotation matrix (ROS order)."""
    R = np.asarray(R, dtype=np.float64)[:3, :3]
    tr = np.trace(R)
    if tr > 0:
        s = 2.0 * np.sqrt(tr + 1.0)
        q = [(R[2, 1] - R[1, 2]) / s, (R[0, 2] - R[2, 0]) / s, (R[1, 0] - R[0, 1]) / s, 0.25 * s]
    elif R[0, 0] > R[1, 1] and R[0, 0] > R[2, 2]:
        s = 2.0 * np.sqrt(1.0 + R[0, 0] - R[1, 1] - R[2, 2])
        q = [0.25 * s, (R[0, 1] + R[1, 0]) / s, (R[0, 2] + R[2, 0]) / s, (R[2, 1] - R[1, 2]) / s]
    elif R[1, 1] > R[2, 2]:
        s = 2.0 * np.sqrt(1.0 + R[1, 1] - R[0, 0] - R[2, 2])
        q = [(R[0, 1] + R[1, 0]) / s, 0.25 * s, (R[1, 2] + R[2, 1]) / s, (R[0, 2] - R[2, 0]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + R[2, 2] - R[0, 0] - R[1, 1])
        q = [(R[0, 2] + R[2, 0]) / s, (R[1, 2] + R[2, 1]) / s, 0.25 * s, (R[1, 0] - R[0, 1]) / s]
    q = np.asarray(q)
    q = q / np.linalg.norm(q)
    return q if q[3] >= 0 else -q


def matrix_from_quaternion(q: np.ndarray) -> np.ndarray:
    """Rotation matrix of an (x, y, z, w) quaternion (normalised first)."""
    x, y, z, w = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def rotation_angle_deg(R_a: np.ndarray, R_b: np.ndarray) -> float:
    """Geodesic angle between two rotations, degrees.

    atan2 of the rotation's sine and cosine, not arccos of the cosine alone: arccos is
    ill-conditioned near 0 and 180 degrees, where it turns float rounding of equal rotations
    into ~1e-6 degrees.
    """
    R = np.asarray(R_a)[:3, :3].T @ np.asarray(R_b)[:3, :3]
    cos = (np.trace(R) - 1.0) / 2.0
    sin = np.linalg.norm([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]]) / 2.0
    return float(np.degrees(np.arctan2(sin, cos)))
