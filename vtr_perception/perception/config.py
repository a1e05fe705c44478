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
            "help": "segment every n-th pixel in x and y (speed); masks are upsampled back. This is the stride "
            "of a camera with focal length stride_focal_px; sharper cameras are strided in proportion, so a "
            "surface gives the same points per metre at any resolution. At 4 (x 277 px) the points of a "
            "surface seen low from 0.6 m lie farther apart than cluster_eps_m and the object falls apart"
        },
    )
    stride_focal_px: float = field(
        default=277.0,
        metadata={
            "help": "focal length (px) at which pixel_stride applies (277: 320x240 at 60 deg); at 640x480 "
            "and 65 deg (502 px) the stride is 5, at 1280x720 (1005 px) 11; 0 = pixel_stride at any focal length"
        },
    )
    plane_distance_m: float = field(
        default=0.006,
        metadata={"help": "least inlier distance (m) of the support plane; farther points get the sensor's "
                          "noise threshold (plane_noise_sigmas x the depth sigma at their range)"},
    )  # fmt: skip
    depth_sigma_base_m: float = field(
        default=0.0015,
        metadata={"help": "depth sensor noise model sigma(z) = base + quadratic * z^2 (m): the base. The "
                          "defaults bound a Kinect v1 (1.5 mm + 1.9 mm/m^2) and a RealSense D435 "
                          "(0.5 mm + 4.2 mm/m^2): 3 mm at 0.6 m, 6 mm at 1 m"},
    )  # fmt: skip
    depth_sigma_quadratic: float = field(
        default=0.0042, metadata={"help": "depth sensor noise model: sigma growth per metre^2 of depth (1/m)"}
    )
    plane_noise_sigmas: float = field(
        default=2.5,
        metadata={"help": "a point within this many depth sigmas of the support plane is on it (and not part "
                          "of an object): 2.5 keeps 99% of a table's points under Gaussian noise"},
    )  # fmt: skip
    plane_iterations: int = field(default=200, metadata={"help": "RANSAC iterations for the support plane"})
    plane_min_fraction: float = field(
        default=0.1, metadata={"help": "the support plane must hold at least this fraction of valid points"}
    )
    support_max_tilt_deg: float = field(
        default=25.0,
        metadata={"help": "the support plane's normal is within this angle (deg) of world z (z up, REP 103): "
                          "walls and shelf fronts never win; 180 accepts any plane (a world frame not "
                          "gravity-aligned)"},
    )  # fmt: skip
    max_object_height_m: float = field(
        default=0.5, metadata={"help": "points higher than this above the support plane are ignored (m)"}
    )
    min_object_height_m: float = field(
        default=0.0,
        metadata={"help": "clusters whose highest point is lower than this (m) above the support plane are not "
                          "objects (magazines, papers, a mat). 0 keeps every height: simulated plates and tools "
                          "are 0.6-1.7 cm high and pybullet_data objects 2.3 cm and up; on a real kitchen table "
                          "0.02 drops magazines (1.3-2.2 cm) and keeps a pile of them (1.8-3.4 cm) in part"},
    )  # fmt: skip
    region_margin_m: float = field(
        default=0.02,
        metadata={"help": "objects stand inside the support surface's seen extent (the convex hull of the "
                          "largest connected patch of plane points) grown by this (m); a cluster with more "
                          "than region_max_outside_fraction of its points beyond it (a counter, shelf, "
                          "chair back, wall, something across the table edge) is not an object. Widen it "
                          "(e.g. 10) to admit everything above the plane"},
    )  # fmt: skip
    region_search_m: float = field(
        default=0.15,
        metadata={"help": "points this far (m) beyond the grown extent are still clustered, so that something "
                          "crossing the table edge is seen whole and rejected, not cut at the edge"},
    )  # fmt: skip
    region_max_outside_fraction: float = field(
        default=0.05, metadata={"help": "share of a cluster's points allowed beyond the grown extent (noise)"}
    )
    support_contact_m: float = field(
        default=0.04,
        metadata={"help": "an object stands on the support: its lowest point is at most this (m) above the "
                          "plane's noise band; shelves and chair rails floating above the table are not objects"},
    )  # fmt: skip
    support_patch_fraction: float = field(
        default=0.25,
        metadata={"help": "the support's extent is the hull of its largest connected patch in the image and of every "
                          "patch at least this share of its size (an object near a low camera splits the table's "
                          "image in two) whose edge comes within support_patch_gap_m of it; 1 = the largest "
                          "patch only"},
    )  # fmt: skip
    support_patch_gap_m: float = field(
        default=0.3,
        metadata={"help": "a patch joins the support's extent only this close (m) to its largest patch: the halves "
                          "of a table split by an object, not another surface at that height across the room"},
    )  # fmt: skip
    support_contact_fraction: float = field(
        default=0.5,
        metadata={"help": "or its lowest point is at most this share of its highest point's height above the band: "
                          "an object whose foot is hidden under its own overhang or behind a neighbour (its lowest "
                          "seen point 5-6 cm up from a high view) still stands on the support"},
    )  # fmt: skip
    max_object_size_m: float = field(
        default=0.4,
        metadata={"help": "clusters whose world bounding box is longer than this (m) are not objects "
                          "(merged furniture, a table edge seen as a rail)"},
    )  # fmt: skip
    cluster_eps_m: float = field(
        default=0.02, metadata={"help": "DBSCAN neighbourhood radius (m); objects closer than this merge"}
    )
    cluster_eps_spacings: float = field(
        default=2.0,
        metadata={
            "help": "the DBSCAN radius grows with range: a point's radius is max(cluster_eps_m, this x the "
            "spacing of the strided points at its depth, stride x depth / fx). Strided points of a face seen "
            "at 45 deg from 1.5 m (stride 6 at fx 585) lie 2.2 cm apart, and a fixed 2 cm radius splits an "
            "object there into pieces too small to keep. The trade-off: objects closer than the radius merge "
            "(3 cm apart at 1.5 m with stride 6 at fx 585). 0 = cluster_eps_m at every range"
        },
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
        default=40,
        metadata={"help": "segments with fewer points (after striding) are dropped; where the DBSCAN radius "
                          "grows with range (cluster_eps_spacings), the count falls with its square (the same "
                          "area): 17 at 1.5 m for a Kinect at 640x480"},
    )  # fmt: skip
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
    miss_support_tolerance_m: float = field(
        default=0.03,
        metadata={
            "help": "an unmatched track in view counts a miss only when this frame's support plane passes within "
            "this (m) of its bottom: under another surface (a tilted fit, the floor) nothing on its table is "
            "segmented; 0 counts a miss whatever the plane"
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

    # --- measured evidence and fusion (perception/evidence.py, perception/fusion.py) ---------
    evidence_fusion: bool = field(
        default=True,
        metadata={"help": "fuse each object's measured free/occupied space (depth, or silhouettes without depth) "
                          "with the network's occupancy; false publishes the network alone"},
    )  # fmt: skip
    evidence_hit_logodds: float = field(
        default=0.85, metadata={"help": "log-odds added to a voxel in the band behind a measured surface"}
    )
    evidence_miss_logodds: float = field(
        default=-0.85, metadata={"help": "log-odds added to a voxel a ray passes in front of the measured surface"}
    )
    evidence_min_logodds: float = field(default=-2.0, metadata={"help": "evidence is clamped to at least this"})
    evidence_max_logodds: float = field(default=3.5, metadata={"help": "evidence is clamped to at most this"})
    evidence_margin_m: float = field(
        default=0.003,
        metadata={"help": "a voxel centre counts as free only when more than this (m) in front of the measured "
                          "depth (noise)"},
    )  # fmt: skip
    evidence_band_voxels: float = field(
        default=2.0, metadata={"help": "depth of the occupied band behind a measured surface, in voxels"}
    )
    evidence_occupied_offset_m: float = field(
        default=0.0015,
        metadata={"help": "a voxel centre counts as occupied only when at least this (m) behind the measured depth "
                          "(noise and the slope of a surface across one pixel)"},
    )  # fmt: skip
    evidence_guard_px: int = field(
        default=0,
        metadata={"help": "a voxel is free only when in front of every depth within this many pixels of its pixel "
                          "(depth edges, flying pixels, depth-to-colour registration)"},
    )  # fmt: skip
    evidence_known_logodds: float = field(
        default=0.8,
        metadata={"help": "|evidence| from which a voxel counts as measured: its state is free or occupied and its "
                          "error estimate is the posterior's uncertainty instead of the error head's"},
    )  # fmt: skip
    network_logodds_clamp: float = field(
        default=2.0, metadata={"help": "the network's occupancy log-odds are clamped to +-this before fusion"}
    )
    measured_network_weight: float = field(
        default=0.0,
        metadata={"help": "weight of the network's log-odds where a voxel is measured (|evidence| >= "
                          "evidence_known_logodds; linear below): 0 lets the measurement decide there, 1 adds the "
                          "two (a confident network then keeps voxels that depth measured free)",
                  "range": (0.0, 1.0)},
    )  # fmt: skip
    evidence_max_frames: int = field(
        default=48, metadata={"help": "frames each object keeps to re-integrate when its cube moves or grows"}
    )
    evidence_move_tolerance_voxels: float = field(
        default=0.25,
        metadata={"help": "the evidence is re-integrated when the object's cube moved or grew by more than this "
                          "many voxels"},
    )  # fmt: skip
    evidence_reset_fraction: float = field(
        default=0.5,
        metadata={"help": "a frame that measures more than this share of the known-occupied voxels it sees as free "
                          "resets the object's evidence (moved by hand, knocked over)", "range": (0.0, 1.0)},
    )  # fmt: skip
    evidence_reset_min_voxels: int = field(
        default=20, metadata={"help": "... and at least this many of them (a few noisy voxels never reset)"}
    )
    evidence_reset_frames: int = field(
        default=2,
        metadata={"help": "... on this many integrated frames in a row: a moved object contradicts every later "
                          "frame, a new view of a thin or hollow part (carving the band behind its first-seen "
                          "surface) mostly one", "range": (1, 100)},
    )  # fmt: skip

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
            "plane_noise_sigmas",
            "max_object_size_m",
            "cluster_eps_m",
            "gate_distance_m",
            "fused_voxel_m",
            "occlusion_margin_m",
            "expected_cells_factor",
        )
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"PerceptionConfig.{name} must be > 0, got {getattr(self, name)}")
        for name in ("pixel_stride", "confirm_hits", "retire_misses", "max_views", "min_views_to_reconstruct",
                     "evidence_max_frames"):  # fmt: skip
            if int(getattr(self, name)) < 1:
                raise ValueError(f"PerceptionConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in (
            "occluded_below_fraction",
            "view_min_visible_fraction",
            "support_contact_fraction",
            "support_patch_fraction",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"PerceptionConfig.{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("depth_sigma_base_m", "depth_sigma_quadratic", "region_search_m", "support_contact_m",
                     "support_patch_gap_m", "stride_focal_px", "cluster_eps_spacings",
                     "min_object_height_m"):  # fmt: skip
            if getattr(self, name) < 0:
                raise ValueError(f"PerceptionConfig.{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 < self.support_max_tilt_deg <= 180.0:
            raise ValueError(
                f"PerceptionConfig.support_max_tilt_deg must be in (0, 180], got {self.support_max_tilt_deg}"
            )
        if not 0.0 <= self.region_max_outside_fraction < 1.0:
            raise ValueError(
                f"PerceptionConfig.region_max_outside_fraction must be in [0, 1), "
                f"got {self.region_max_outside_fraction}"
            )
        if not (self.evidence_miss_logodds < 0 < self.evidence_hit_logodds):
            raise ValueError("PerceptionConfig: need evidence_miss_logodds < 0 < evidence_hit_logodds")
        if not (self.evidence_min_logodds < 0 < self.evidence_max_logodds):
            raise ValueError("PerceptionConfig: need evidence_min_logodds < 0 < evidence_max_logodds")
        for name in ("evidence_margin_m", "evidence_band_voxels", "evidence_known_logodds", "network_logodds_clamp",
                     "evidence_move_tolerance_voxels"):  # fmt: skip
            if not getattr(self, name) > 0:
                raise ValueError(f"PerceptionConfig.{name} must be > 0, got {getattr(self, name)}")
        if not 0.0 <= self.measured_network_weight <= 1.0:
            raise ValueError(
                f"PerceptionConfig.measured_network_weight must be in [0, 1], got {self.measured_network_weight}"
            )
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
