"""Per-object view buffer and the object-centred virtual camera that turns a frame into a model input.

Virtual camera. Training views show the object (longest side 1) from distance
RENDER_DISTANCE = 2 through a field of view RENDER_FOV_DEG = 52, looking at its centre. A real
camera at distance ``d`` from an object of longest side ``L`` is first rotated about its optical
centre so that its z axis passes through the object centre (``look_at`` with up = -y of the real
camera, so the roll stays close to the real one); that is the camera the model is told about.
Its field of view is then chosen so the object has the training apparent size: a point at
lateral offset ``x`` (canonical units) in the plane through the centre lands at
``x / RENDER_DISTANCE / tan(RENDER_FOV/2)`` half-images in training and at
``x L / d / tan(fov/2)`` here, so

    tan(fov / 2) = tan(RENDER_FOV / 2) * RENDER_DISTANCE * L / d.

Only perspective foreshortening differs when d / L != RENDER_DISTANCE (weak-perspective
approximation; small for d / L between 2 and 8). The real image is resampled into the virtual
camera with the pure-rotation homography; pixels outside the object mask become background.

The crop is made from the current centre and size estimate each time the model runs, so every
view in the buffer is normalised with the same (latest, best) estimate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from vtr_perception.geometry.cameras import RENDER_DISTANCE, RENDER_FOV_DEG, Intrinsics, look_at
from vtr_perception.perception.segmentation import mask_bbox

WHITE = (255, 255, 255)


def virtual_camera(
    T_world_camera: np.ndarray, center: np.ndarray, size: float, image_size: int
) -> tuple[Intrinsics, np.ndarray]:
    """(intrinsics, T_world_virtual) of the object-centred virtual camera (see module docstring)."""
    T = np.asarray(T_world_camera, dtype=np.float64)
    eye = T[:3, 3]
    center = np.asarray(center, dtype=np.float64)
    distance = float(np.linalg.norm(center - eye))
    if not (np.isfinite(size) and size > 0 and distance > 0):
        raise ValueError(
            f"virtual camera needs a positive object size and distance, got size={size} distance={distance}"
        )
    tan_half = np.tan(np.radians(RENDER_FOV_DEG) / 2.0) * RENDER_DISTANCE * size / distance
    fov = float(np.degrees(2.0 * np.arctan(tan_half)))
    return Intrinsics.from_fov(image_size, image_size, fov), look_at(eye, center, up=-T[:3, 1])


@dataclass
class View:
    """One kept observation: the object's pixels and alpha mask around it, and where the camera was."""

    rgb: np.ndarray  # (h, w, 3) uint8 crop around the mask
    mask: np.ndarray  # (h, w) bool
    intrinsics: Intrinsics  # of the crop
    T_world_camera: np.ndarray
    stamp: float
    direction: np.ndarray  # unit vector from the object centre to the camera (world)
    _cache: tuple | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_frame(
        cls,
        rgb: np.ndarray,
        mask: np.ndarray,
        intrinsics: Intrinsics,
        T_world_camera: np.ndarray,
        stamp: float,
        center: np.ndarray,
        pad: int = 2,
    ) -> View:
        if not mask.any():
            raise ValueError("cannot make a view from an empty mask")
        h, w = mask.shape
        x0, y0, x1, y1 = mask_bbox(mask)
        x0, y0, x1, y1 = max(x0 - pad, 0), max(y0 - pad, 0), min(x1 + pad, w), min(y1 + pad, h)
        T = np.asarray(T_world_camera, dtype=np.float64).copy()
        d = T[:3, 3] - np.asarray(center, dtype=np.float64)
        return cls(
            rgb[y0:y1, x0:x1].copy(),
            mask[y0:y1, x0:x1].copy(),
            intrinsics.cropped(x0, y0, x1 - x0, y1 - y0),
            T,
            float(stamp),
            d / np.linalg.norm(d),
        )

    def render(
        self, center: np.ndarray, size: float, image_size: int, background: tuple[int, int, int] = WHITE
    ) -> tuple[np.ndarray, np.ndarray]:
        """(image float32 (3, S, S) in [0, 1], R_world_virtual (3, 3)) as the model expects them.

        Cached: re-rendered only when the centre moves >= 2 mm or the size changes >= 1 %.
        """
        key = (
            tuple(np.round(np.asarray(center) / 2e-3).astype(int)),
            int(round(np.log(size) / 1e-2)),
            int(image_size),
            tuple(background),
        )
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1], self._cache[2]
        image, R = self._render(center, size, image_size, background)
        self._cache = (key, image, R)
        return image, R

    def _render(
        self, center: np.ndarray, size: float, image_size: int, background: tuple[int, int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        K_v, T_wv = virtual_camera(self.T_world_camera, center, size, image_size)
        R_cv = self.T_world_camera[:3, :3].T @ T_wv[:3, :3]
        rays = K_v.pixel_rays().reshape(-1, 3) @ R_cv.T  # virtual pixel rays in the real camera frame
        ahead = rays[:, 2] > 1e-6
        z = np.where(ahead, rays[:, 2], 1.0)
        u = self.intrinsics.fx * rays[:, 0] / z + self.intrinsics.cx - 0.5  # pixel-centre index coordinates
        v = self.intrinsics.fy * rays[:, 1] / z + self.intrinsics.cy - 0.5
        coords = np.stack([v, u])
        alpha = ndimage.map_coordinates(self.mask.astype(np.float32), coords, order=1, cval=0.0)
        alpha = np.where(ahead, alpha, 0.0).astype(np.float32)
        bg = np.asarray(background, dtype=np.float32) / 255.0
        out = np.empty((3, image_size * image_size), dtype=np.float32)
        for c in range(3):
            # Colour is sampled only from object pixels (pre-multiplied by the mask) so no table colour bleeds in.
            premult = ndimage.map_coordinates(
                self.rgb[..., c].astype(np.float32) / 255.0 * self.mask, coords, order=1, cval=0.0
            )
            out[c] = premult + (1.0 - alpha) * bg[c]
        return np.clip(out, 0.0, 1.0).reshape(3, image_size, image_size), T_wv[:3, :3]


def angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angles (deg) between unit vectors (broadcasting)."""
    return np.degrees(np.arccos(np.clip(np.sum(a * b, axis=-1), -1.0, 1.0)))


class ViewBuffer:
    """A bounded, diverse set of views of one object (near-duplicate viewpoints are dropped)."""

    def __init__(self, *, max_views: int, min_angle_deg: float) -> None:
        if max_views < 1:
            raise ValueError(f"max_views must be >= 1, got {max_views}")
        self.max_views = int(max_views)
        self.min_angle_deg = float(min_angle_deg)
        self.views: list[View] = []

    def __len__(self) -> int:
        return len(self.views)

    def consider(self, view: View) -> bool:
        """Keep ``view`` if it adds a new viewpoint; returns whether the buffer changed.

        When full, one view goes so that the smallest angle between any two kept viewpoints is
        as large as possible (max-min diversity); if dropping the new view is as good, nothing changes.
        """
        if self.views:
            dirs = np.stack([v.direction for v in self.views])
            if angle_deg(dirs, view.direction).min() < self.min_angle_deg:
                return False
        if len(self.views) < self.max_views:
            self.views.append(view)
            return True
        dirs = np.stack([v.direction for v in self.views] + [view.direction])
        pair = angle_deg(dirs[:, None], dirs[None, :])
        np.fill_diagonal(pair, np.inf)
        n = len(dirs)
        spread = np.array([pair[np.ix_(keep, keep)].min() for keep in (np.delete(np.arange(n), k) for k in range(n))])
        if spread[-1] >= spread.max() - 1e-9:
            return False
        del self.views[int(np.argmax(spread))]
        self.views.append(view)
        return True

    def model_inputs(
        self,
        center: np.ndarray,
        size: float,
        image_size: int,
        max_views: int | None = None,
        background: tuple[int, int, int] = WHITE,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(images (V, 3, S, S), R_world_virtual (V, 3, 3)) of the newest ``max_views`` views."""
        views = self.views if max_views is None else self.views[-max_views:]
        if not views:
            raise ValueError("the view buffer is empty")
        rendered = [v.render(center, size, image_size, background) for v in views]
        return np.stack([r[0] for r in rendered]), np.stack([r[1] for r in rendered]).astype(np.float32)
