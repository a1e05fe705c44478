"""The simulated RGB-D camera over a table-top scene: its settings and the plain camera that renders frames.

sim_camera_node publishes its frames over ROS; the simulated loop (sim/loop.py) renders them in-process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from vtr_perception.geometry import cameras
from vtr_perception.geometry.renderer import Renderer, RenderResult
from vtr_perception.sim.depth_noise import PROFILES, apply_depth_noise, depth_noise_profile
from vtr_perception.sim.scenes import TableTopScene, make_tabletop_scene


@dataclass
class SimCameraConfig:
    """The simulated scene and camera."""

    source: str = field(
        default="pybullet",
        metadata={
            "help": "mesh source spec of the objects: pybullet (pybullet_data random objects), procedural, "
            "meshdir:PATH, ... (data layer)"
        },
    )
    num_objects: int = field(default=3, metadata={"help": "objects on the table", "range": (1, 8)})
    split: str = field(default="test", metadata={"help": "split the objects are drawn from (held out from training)"})
    seed: int = field(default=0, metadata={"help": "scene seed: object choice, sizes, placement"})
    object_keys: list[str] = field(default_factory=list, metadata={"help": "explicit object keys (overrides split)"})
    room: bool = field(
        default=False,
        metadata={"help": "put the table in a room (sim/room.py): walls, a counter and shelves with items, chairs; "
                          "clutter a real camera sees, never one of the objects"},
    )  # fmt: skip
    width: int = field(default=320, metadata={"help": "image width, pixels", "range": (16, 4096)})
    height: int = field(default=240, metadata={"help": "image height, pixels", "range": (16, 4096)})
    fov_deg: float = field(default=60.0, metadata={"help": "horizontal field of view, degrees", "range": (10.0, 170.0)})
    depth_noise: str = field(
        default="realsense_d435",
        metadata={
            "help": "depth sensor model applied to the rendered depth (sim/depth_noise.py): "
            + ", ".join(PROFILES)
            + "; none = perfect depth (an option, never the headline)"
        },
    )
    rate_hz: float = field(default=5.0, metadata={"help": "frames per second", "range": (0.1, 60.0)})
    mode: Literal["follow", "orbit"] = field(
        default="follow", metadata={"help": "follow: move to next_best_view; orbit: circle the table"}
    )
    start_azimuth_deg: float = field(default=200.0, metadata={"help": "initial azimuth around the first object"})
    start_elevation_deg: float = field(default=30.0, metadata={"help": "initial elevation, degrees"})
    distance: float = field(default=0.6, metadata={"help": "initial / orbit distance to the target, metres"})
    orbit_speed_deg: float = field(default=10.0, metadata={"help": "orbit mode: degrees of azimuth per frame"})
    world_frame: str = field(default="world", metadata={"help": "frame of poses and TF parent"})
    camera_frame: str = field(default="sim_camera_optical", metadata={"help": "optical frame id of the images"})
    publish_mask: bool = field(default=False, metadata={"help": "also publish the true instance mask (32SC1)"})
    publish_spacing_s: float = field(
        default=0.005,
        metadata={"help": "pause between a frame's pose, camera_info, depth and image (s): sent as one ~0.5 MB "
                          "burst, the small messages can be lost on Fast DDS over UDP; raise it if subscribers "
                          "see fewer depth or pose samples than images (0: one burst)",
                  "range": (0.0, 0.05)},
    )  # fmt: skip


class SimCamera:
    """The plain simulated camera: a scene, intrinsics and a pose; renders frames."""

    def __init__(self, config: SimCameraConfig, scene: TableTopScene | None = None) -> None:
        self.config = config
        self.depth_noise = depth_noise_profile(config.depth_noise)
        self.rng = np.random.default_rng([config.seed, 7])  # the depth noise's draws
        self.scene = scene or make_tabletop_scene(
            config.source,
            num_objects=config.num_objects,
            split=config.split,
            seed=config.seed,
            object_keys=list(config.object_keys) or None,
            room=config.room,
        )
        self.renderer = Renderer(self.scene.meshes())
        self.intrinsics = cameras.Intrinsics.from_fov(config.width, config.height, config.fov_deg)
        target = self.scene.objects[0].center
        self.orbit_azimuth = config.start_azimuth_deg
        self.T_world_camera = cameras.camera_from_angles(
            config.start_azimuth_deg, config.start_elevation_deg, config.distance, target=target
        )

    def orbit_step(self) -> None:
        self.orbit_azimuth = (self.orbit_azimuth + self.config.orbit_speed_deg) % 360.0
        self.T_world_camera = cameras.camera_from_angles(
            self.orbit_azimuth, self.config.start_elevation_deg, self.config.distance + 0.2, target=np.zeros(3)
        )

    def move_to(self, T_world_camera: np.ndarray) -> None:
        T = np.asarray(T_world_camera, dtype=np.float64)
        if T.shape != (4, 4) or not np.isfinite(T).all():
            raise ValueError("camera pose must be a finite 4x4 transform")
        self.T_world_camera = T

    def render(self) -> RenderResult:
        """A frame at the current pose, its depth as the configured sensor measures it."""
        frame = self.renderer.render(self.intrinsics, self.T_world_camera)
        if self.depth_noise is not None:
            frame.depth = apply_depth_noise(frame.depth, self.intrinsics, self.depth_noise, self.rng)
        return frame
