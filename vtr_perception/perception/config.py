"""PerceptionConfig: every knob of the per-object pipeline (CLI flags, YAML and ROS parameters)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class PerceptionConfig:
    """Per-object perception: segmentation, tracking, view buffer, reconstruction and pose."""

    # --- depth and segmentation -------------------------------------------------------------
    min_depth_m: float = field(default=0.1, metadata={"help": "depth below this (m) is invalid (sensor minimum)"})
    max_depth_m: float = field(default=3.0, metadata={"help": "depth beyond this (m) is ignored (background)"})
    pixel_stride: int = field(
        default=3,
        metadata={
            "help": "segment every n-th pixel in x and y; masks are upsampled back. Larger is faster, but the "
            "strided points of a surface seen at a grazing angle must stay closer than cluster_eps_m or the "
            "object falls apart: raise it only with higher-resolution images or closer views"
        },
    )
    plane_distance_m: float = field(default=0.006, metadata={"help": "RANSAC inlier distance (m) of the support plane"})
    plane_iterations: int = field(default=200, metadata={"help": "RANSAC iterations for the support plane"})
    plane_min_fraction: float = field(
        default=0.15, metadata={"help": "the support plane must hold at least this fraction of valid points"}
    )
    max_object_height_m: float = field(
        default=0.5, metadata={"help": "points higher than this above the support plane are ignored (m)"}
    )
    cluster_eps_m: float = field(
        default=0.02, metadata={"help": "DBSCAN neighbourhood radius (m); objects closer than this merge"}
    )
    cluster_min_points: int = field(
        default=4,
        metadata={
            "help": "DBSCAN core-point neighbour count. Strided depth points thin out with range, so a thin "
            "part (1-2 cm) seen from 0.6 m has few neighbours within cluster_eps_m; too high a count drops "
            "such parts as noise, holing the mask or losing the object. Raise it for noisy depth"
        },
    )
    min_object_points: int = field(
        default=40, metadata={"help": "segments with fewer points (after striding) are dropped"}
    )
    border_margin_px: int = field(
        default=2, metadata={"help": "a mask within this many pixels of the image border counts as cut"}
    )
    ignore_mask_ids: tuple[int, ...] = field(
        default=(0,), metadata={"help": "instance-mask values that are not objects (background, table)"}
    )
    known_object_size_m: float = field(
        default=0.0,
        metadata={"help": "RGB-only mode: assumed longest side of every object (m); 0 = RGB-only disabled"},
    )

    # --- tracking ------------------------------------------------------------------------------
    gate_distance_m: float = field(
        default=0.08, metadata={"help": "a detection farther than this from a track's centre never matches it"}
    )
    size_ratio_gate: float = field(
        default=1.6,
        metadata={
            "help": "a detection whose size differs from the track's by more than this ratio "
            "never matches it (e.g. two touching objects merged by DBSCAN)"
        },
    )
    size_weight: float = field(default=0.5, metadata={"help": "weight of the size difference in the match cost"})
    confirm_hits: int = field(default=2, metadata={"help": "a track is confirmed after this many matched frames"})
    retire_misses: int = field(
        default=8, metadata={"help": "a track is retired after this many frames in view without a match"}
    )
    occlusion_margin_m: float = field(
        default=0.02,
        metadata={"help": "a track point whose pixel has depth more than this (m) in front of it is hidden"},
    )
    occluded_below_fraction: float = field(
        default=0.3,
        metadata={
            "help": "a track with fewer of its points visible than this is occluded: not expected in view, "
            "so it counts no miss (a neighbour in front of it does not retire it)"
        },
    )
    view_min_visible_fraction: float = field(
        default=0.9,
        metadata={
            "help": "a view is kept only when at least this share of the track's points in the image is not "
            "hidden by something in front (depth only): a neighbour cutting the silhouette makes the "
            "reconstructor carve the object away; 0 keeps every view"
        },
    )
    expected_cells_factor: float = field(
        default=2.0,
        metadata={
            "help": "a track counts a miss only where its footprint covers this many times min_object_points "
            "strided cells: near that limit segmentation may still lose it (points near the support "
            "plane, ragged edges), and a track retired there is rebuilt from scratch"
        },
    )
    track_timeout_s: float = field(
        default=120.0, metadata={"help": "a track not seen for this long (s) is retired; 0 = never"}
    )
    max_camera_jump_m: float = field(
        default=0.3, metadata={"help": "camera moves farther than this (m) between frames = suspected pose jump"}
    )
    max_camera_jump_deg: float = field(
        default=45.0, metadata={"help": "camera turns more than this (deg) between frames = suspected pose jump"}
    )
    jump_min_consistency: float = field(
        default=0.5,
        metadata={
            "help": "after a suspected jump, the frame is kept only if this fraction of the confirmed "
            "tracks expected in view is matched"
        },
    )
    fuse_min_angle_deg: float = field(
        default=4.0,
        metadata={
            "help": "a track fuses new depth points only after the viewing direction changed "
            "this much (deg) since its last fusion (near-identical views add nothing)"
        },
    )
    merge_fragments: bool = field(
        default=True,
        metadata={
            "help": "join detections whose points all lie in one confirmed track's box into one detection "
            "(an object split by depth clustering where it hides its own connecting parts)"
        },
    )
    fused_voxel_m: float = field(
        default=0.003, metadata={"help": "voxel size (m) of each track's fused world-frame point cloud"}
    )

    # --- view buffer and reconstruction -----------------------------------------------------
    max_views: int = field(default=8, metadata={"help": "views kept per object (also capped by the model)"})
    min_view_angle_deg: float = field(
        default=15.0, metadata={"help": "a view closer than this (deg) to a kept viewpoint is a near-duplicate"}
    )
    min_views_to_reconstruct: int = field(
        default=1, metadata={"help": "reconstruct an object once it has this many views"}
    )
    max_reconstructions_per_frame: int = field(
        default=1,
        metadata={"help": "objects reconstructed per frame, those waiting longest first; the rest wait for the "
                          "next frame, which bounds a frame's latency (0: all that need it)"},
    )  # fmt: skip
    occupancy_threshold: float = field(default=0.4, metadata={"help": "occupancy probability of the surface"})
    fallback_threshold_frac: float = field(
        default=0.8,
        metadata={
            "help": "when no voxel reaches occupancy_threshold (an unsure model), the surface is taken at "
            "this fraction of the grid's maximum instead; 0 leaves such objects without a mesh"
        },
    )

    # --- pose -----------------------------------------------------------------------------------
    axis_source: Literal["observed", "reconstruction", "both"] = field(
        default="observed",
        metadata={
            "help": "pose-aware mode: the object's x axis is the principal horizontal axis of the fused depth "
            "points (observed), of the reconstruction's voxels, or of both; without depth points the "
            "reconstruction is used"
        },
    )
    reference_frame: Literal["world", "object_axes"] = field(
        default="object_axes",
        metadata={
            "help": "pose-aware mode: run the model in the world's axes, or turned about world z to the "
            "principal horizontal axes of the depth points (modulo quarter turns) with the crop sized "
            "by the extent along them, as the model trained on axis-aligned objects; the prediction "
            "is resampled into the world-aligned grid (perception/reference_frame.py)"
        },
    )
    reference_turns: int = field(
        default=1,
        metadata={
            "help": "pose-aware mode: run the model in this many reference frames a quarter (4) or half (2) "
            "turn apart about world z, in one batch, and average the predictions; network time grows "
            "with the count, so raise it only where the network is cheap",
            "range": (1, 4),
        },
    )
    fit_to_observed_size: bool = field(
        default=False,
        metadata={
            "help": "scale the reconstruction so its extent equals the object size measured from depth and "
            "centre its bounding box on the measured centre (trust depth over the network's extent); false "
            "keeps the network's grid in the cube the crops were made for (measured centre and size)"
        },
    )
    icp_mode: Literal["off", "rotation", "full"] = field(
        default="rotation",
        metadata={
            "help": "ICP refinement of the reconstruction against the depth points: off, rotation only "
            "(about the observed centre; the default, see object_pose.py) or full rigid"
        },
    )
    icp_max_distance_frac: float = field(
        default=0.08, metadata={"help": "ICP correspondence distance as a fraction of the object size"}
    )
    icp_iterations: int = field(default=20, metadata={"help": "ICP iterations"})
    icp_max_correction_deg: float = field(
        default=15.0, metadata={"help": "ICP corrections turning more than this (deg) are rejected"}
    )
    rotation_outlier_deg: float = field(
        default=30.0,
        metadata={
            "help": "canonical mode: per-view rotations farther than this from the mean are dropped before re-averaging"
        },
    )

    def __post_init__(self) -> None:
        positive = (
            "max_depth_m",
            "plane_distance_m",
            "cluster_eps_m",
            "gate_distance_m",
            "fused_voxel_m",
            "occlusion_margin_m",
            "expected_cells_factor",
        )
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"PerceptionConfig.{name} must be > 0, got {getattr(self, name)}")
        for name in ("pixel_stride", "confirm_hits", "retire_misses", "max_views", "min_views_to_reconstruct"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"PerceptionConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("occluded_below_fraction", "view_min_visible_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"PerceptionConfig.{name} must be in [0, 1], got {getattr(self, name)}")
        if self.size_ratio_gate <= 1.0:
            raise ValueError(f"PerceptionConfig.size_ratio_gate must be > 1, got {self.size_ratio_gate}")
        if self.known_object_size_m < 0:
            raise ValueError(f"PerceptionConfig.known_object_size_m must be >= 0, got {self.known_object_size_m}")
        if self.axis_source not in ("observed", "reconstruction", "both"):
            raise ValueError(
                f"PerceptionConfig.axis_source must be observed, reconstruction or both, got {self.axis_source!r}"
            )
        if self.reference_frame not in ("world", "object_axes"):
            raise ValueError(
                f"PerceptionConfig.reference_frame must be world or object_axes, got {self.reference_frame!r}"
            )
        if self.reference_turns not in (1, 2, 4):
            raise ValueError(f"PerceptionConfig.reference_turns must be 1, 2 or 4, got {self.reference_turns!r}")
        if self.icp_mode not in ("off", "rotation", "full"):
            raise ValueError(f"PerceptionConfig.icp_mode must be off, rotation or full, got {self.icp_mode!r}")
        self.ignore_mask_ids = tuple(int(i) for i in self.ignore_mask_ids)
