"""A real RGB-D recording with camera poses, as a rosbag2 for the nodes and through the pipeline in one process.

The recording is a directory in the layout of 7-Scenes as andyzeng/tsdf-fusion(-python) ships it
(`data/`): ``camera-intrinsics.txt`` (3x3), and per frame ``frame-XXXXXX.color.jpg|png`` (RGB),
``frame-XXXXXX.depth.png`` (16-bit, millimetres, 0 = no depth) and ``frame-XXXXXX.pose.txt`` (4x4
camera-to-world, camera optical frame). Such poses come from KinectFusion, in a world whose z is not
up; the project's world has z up (support planes are searched within ``support_max_tilt_deg`` of it), so
the world is turned to gravity first (``gravity_rotation``): a hand-held camera's x axis is close to
horizontal, so up is the direction most nearly perpendicular to every frame's x axis, refined to the
normal of the dominant horizontal plane in the depth (floor or table top).

    python benchmarks/real_recording.py convert DATA_DIR BAG [--step 25] [--rate 2]   # a bag for `demo --bag`
    python benchmarks/real_recording.py run DATA_DIR [--step 25] [--objects LABELS] [--set KEY=VALUE ...]
    python benchmarks/real_recording.py nodes DATA_DIR [--step 25] [--rate 0.5] [--objects LABELS]

``convert`` writes /image (rgb8), /depth (16UC1, mm), /camera_info and /camera_pose (PoseStamped in
``world``) at ``--rate`` Hz, the layout `vtr-perception demo --record` writes and `demo --bag` plays.
``run`` plays the frames through PerceptionPipeline with the shipped model and writes
benchmarks/results/real_recording_<name>.json and .png: confirmed tracks per frame, each final
object's size, position, height of its mesh bottom above the table plane, views, and time per frame.
With ``--objects`` (a JSON list of {"name", "xy", "half_xy", "standing"}: footprints in the turned world) each
track is given the labelled object whose footprint, grown by ``--match-m``, holds its centre: a standing object
should have exactly one track, and a track on no labelled object is a false one; without it only tracks are listed.
``nodes`` writes the bag to a temporary directory, plays it through `vtr-perception demo --bag` (the nodes as
processes over DDS) and writes benchmarks/results/real_recording_<name>_nodes.json: the objects the nodes
published, their views, labels and mesh bottoms, and the frame-skip warnings in the node's log. The data of
7-Scenes may be used for non-commercial purposes only: it is not in the project (docs/experiments.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import RESULTS_DIR, write_result  # noqa: E402
from vtr_perception.geometry.cameras import Intrinsics  # noqa: E402
from vtr_perception.perception.config import PerceptionConfig  # noqa: E402


@dataclass
class Recording:
    intrinsics: Intrinsics
    indices: list[int]  # frame numbers as named in the directory
    T_world_camera: np.ndarray  # (N, 4, 4) in the gravity-aligned world
    files: list[tuple[Path, Path]]  # (colour, depth) per frame
    R_gravity: np.ndarray  # (3, 3) turn applied to the recording's own world


def _frame_files(root: Path, index: int) -> tuple[Path, Path, Path]:
    stem = root / f"frame-{index:06d}"
    colour = next((p for p in (Path(f"{stem}.color.jpg"), Path(f"{stem}.color.png")) if p.exists()), None)
    if colour is None:
        raise ValueError(f"{stem}.color.jpg/png is missing")
    return colour, Path(f"{stem}.depth.png"), Path(f"{stem}.pose.txt")


def read_rgb(path: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"))


def read_depth_mm(path: Path) -> np.ndarray:
    from PIL import Image

    depth = np.asarray(Image.open(path))
    if depth.dtype != np.uint16 and depth.dtype != np.int32:
        raise ValueError(f"{path}: depth must be a 16-bit PNG in millimetres, got {depth.dtype}")
    return depth.astype(np.uint16)


def _up_from_cameras(T: np.ndarray) -> np.ndarray:
    """The direction most nearly perpendicular to every camera's x axis, on the side of the cameras' -y."""
    x = T[:, :3, 0]
    up = np.linalg.eigh(x.T @ x)[1][:, 0]
    return up if float(np.mean(-T[:, :3, 1] @ up)) > 0 else -up


def _horizontal_normal(points: np.ndarray, up: np.ndarray, max_deg: float = 15.0) -> np.ndarray:
    """The normal of the largest plane (RANSAC, 1.5 cm band, then least squares) among ``points`` within ``max_deg``
    of ``up``."""
    rng = np.random.default_rng(0)
    best, best_n, best_p = 0, up, points[0]
    cos_max = np.cos(np.radians(max_deg))
    for _ in range(400):
        p = points[rng.choice(len(points), 3, replace=False)]
        n = np.cross(p[1] - p[0], p[2] - p[0])
        norm = np.linalg.norm(n)
        if norm < 1e-9:
            continue
        n = n / norm * np.sign(n @ up)
        if n @ up < cos_max:
            continue
        count = int((np.abs((points - p[0]) @ n) < 0.015).sum())
        if count > best:
            best, best_n, best_p = count, n, p[0]
    inliers = points[np.abs((points - best_p) @ best_n) < 0.015]
    if len(inliers) < 3:
        return best_n
    n = np.linalg.svd(inliers - inliers.mean(axis=0), full_matrices=False)[2][-1]  # least squares on the inliers
    return n * np.sign(n @ best_n)


def _rotation_to_z(up: np.ndarray) -> np.ndarray:
    """The smallest rotation taking ``up`` to +z."""
    z = np.array([0.0, 0.0, 1.0])
    v, c = np.cross(up, z), float(up @ z)
    if np.linalg.norm(v) < 1e-12:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1.0 + c)


def gravity_rotation(T: np.ndarray, depth_files: list[Path], intrinsics: Intrinsics, samples: int = 12) -> np.ndarray:
    """R taking the recording's world to one with z up (see the module docstring)."""
    from vtr_perception.perception.segmentation import backproject

    up = _up_from_cameras(T)
    picks = np.linspace(0, len(depth_files) - 1, min(samples, len(depth_files))).astype(int)
    clouds = []
    for i in picks:
        depth = read_depth_mm(depth_files[i]).astype(np.float64) / 1000.0
        depth[(depth <= 0.1) | (depth > 3.0)] = np.nan
        pts, _ = backproject(depth, intrinsics, T[i], 8)
        clouds.append(pts[np.isfinite(pts).all(axis=-1)])
    points = np.concatenate(clouds)
    if len(points) >= 100:
        up = _horizontal_normal(points, up)
    return _rotation_to_z(up)


def load_recording(root: str | Path, start: int = 0, stop: int | None = None, step: int = 1) -> Recording:
    root = Path(root)
    if not (root / "camera-intrinsics.txt").exists():
        raise ValueError(f"{root} has no camera-intrinsics.txt: not a 7-Scenes / tsdf-fusion style recording")
    K = np.loadtxt(root / "camera-intrinsics.txt")
    indices = sorted(int(p.name[6:12]) for p in root.glob("frame-*.pose.txt"))
    indices = [i for i in indices if i >= start and (stop is None or i < stop)][::step]
    if not indices:
        raise ValueError(f"{root}: no frames in [{start}, {stop}) with step {step}")
    files = [_frame_files(root, i) for i in indices]
    T = np.stack([np.loadtxt(f[2]).reshape(4, 4) for f in files])
    u, _, vt = np.linalg.svd(T[:, :3, :3])
    T[:, :3, :3] = u @ vt  # the nearest rotations: the files hold 7 digits, short of a PoseStamped's check
    h, w = read_depth_mm(files[0][1]).shape
    intrinsics = Intrinsics(fx=K[0, 0], fy=K[1, 1], cx=K[0, 2], cy=K[1, 2], width=w, height=h)
    R = gravity_rotation(T, [f[1] for f in files], intrinsics)
    G = np.eye(4)
    G[:3, :3] = R
    return Recording(intrinsics, indices, G @ T, [(f[0], f[1]) for f in files], R)


def camera_messages(rec: Recording, k: int, stamp: float, camera_frame: str = "camera", world_frame: str = "world"):
    """Frame ``k`` as (topic, message) in the order a camera driver sends it: pose, camera_info, depth, image."""
    from vtr_perception.ros import conversions as conv

    colour, depth_file = rec.files[k]
    return [
        ("camera_pose", conv.matrix_to_pose_stamped(rec.T_world_camera[k], stamp=stamp, frame_id=world_frame)),
        ("camera_info", conv.intrinsics_to_camera_info(rec.intrinsics, stamp=stamp, frame_id=camera_frame)),
        ("depth", conv.numpy_to_image(read_depth_mm(depth_file), "16UC1", stamp=stamp, frame_id=camera_frame)),
        ("image", conv.numpy_to_image(read_rgb(colour), "rgb8", stamp=stamp, frame_id=camera_frame)),
    ]


def write_bag(rec: Recording, path: str | Path, rate_hz: float = 2.0, start_s: float = 1.0) -> dict[str, int]:
    """Write the recording as a rosbag2 (sqlite3) of the camera topics; returns messages per topic."""
    from rclpy.serialization import serialize_message
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore

    from vtr_perception.ros.bag import CAMERA_TOPICS

    path = Path(path)
    if path.exists():
        raise ValueError(f"bag {path} already exists; choose a new path")
    if not rate_hz > 0:
        raise ValueError(f"--rate must be positive, got {rate_hz}")
    store = get_typestore(Stores.ROS2_HUMBLE)
    writer = Writer(path, version=9)
    writer.open()
    counts: dict[str, int] = dict.fromkeys(CAMERA_TOPICS, 0)
    try:
        conns = {name: writer.add_connection(f"/{name}", f"{t.__module__.split('.')[0]}/msg/{t.__name__}",
                                             typestore=store) for name, t in CAMERA_TOPICS.items()}  # fmt: skip
        for k in range(len(rec.indices)):
            stamp = start_s + k / rate_hz
            for j, (name, msg) in enumerate(camera_messages(rec, k, stamp)):
                writer.write(conns[name], int(stamp * 1e9) + j * 1000, serialize_message(msg))
                counts[name] += 1
    finally:
        writer.close()
    return counts


def load_depth_m(path: Path) -> np.ndarray:
    depth = read_depth_mm(path).astype(np.float32) * np.float32(1e-3)
    depth[depth <= 0] = np.nan
    return depth


def _table_height(seg_plane: np.ndarray | None) -> float | None:
    """Height (world z) of a near-horizontal plane a x + b y + c z + d = 0, None without one."""
    if seg_plane is None or abs(seg_plane[2]) < 0.9:
        return None
    return float(-seg_plane[3] / seg_plane[2])


def dominant_height(heights: list[float], band_m: float = 0.03) -> float | None:
    """The median of the largest group of sampled support heights within ``band_m`` of one another (the table;
    frames that see mostly floor or a counter give other heights), None without samples."""
    if not heights:
        return None
    h = np.asarray(heights)
    centre = h[int(np.argmax([(np.abs(h - x) <= band_m).sum() for x in h]))]
    return float(np.median(h[np.abs(h - centre) <= band_m]))


def play(rec: Recording, config: PerceptionConfig, backend, rate_hz: float, plane_every: int = 5) -> dict:
    """Every frame through one PerceptionPipeline; per-frame counts and times, the table height where sampled."""
    from vtr_perception.perception.pipeline import PerceptionPipeline
    from vtr_perception.perception.segmentation import segment_depth

    pipe = PerceptionPipeline(config, backend)
    frames, heights, ever = [], [], set()
    for k in range(len(rec.indices)):
        rgb, depth = read_rgb(rec.files[k][0]), load_depth_m(rec.files[k][1])
        T = rec.T_world_camera[k]
        t0 = time.perf_counter()
        res = pipe.process(rgb, depth, rec.intrinsics, T, k / rate_hz)
        wall_ms = 1e3 * (time.perf_counter() - t0)
        confirmed = sorted(t.id for t in pipe.tracker.confirmed())
        ever.update(confirmed)
        frames.append({"frame": rec.indices[k], "skipped": res.skipped, "confirmed": confirmed, "wall_ms": wall_ms,
                       **{f"{key}_ms": float(v) for key, v in res.timings.items()}})  # fmt: skip
        if k % plane_every == 0:
            z = _table_height(segment_depth(depth, rec.intrinsics, T, config).plane_world)
            if z is not None:
                heights.append(z)
    return {"pipeline": pipe, "frames": frames, "tracks_ever_confirmed": sorted(ever), "table_heights": heights}


def label_of(center: np.ndarray, labels: list[dict], margin_m: float) -> str | None:
    """The labelled object whose footprint (``xy`` +- ``half_xy``, grown by ``margin_m``) holds ``center``; the one
    with the nearest centre where several do, None where none does."""
    inside = [(float(np.linalg.norm(np.asarray(o["xy"]) - center[:2])), o["name"]) for o in labels
              if np.all(np.abs(np.asarray(o["xy"]) - center[:2]) <= np.asarray(o["half_xy"]) + margin_m)]  # fmt: skip
    return min(inside)[1] if inside else None


def track_rows(pipe, labels: list[dict], match_m: float, table_z: float | None) -> list[dict]:
    """One row per confirmed track: size, position, views, its mesh bottom against the table, the labelled object."""
    rows = []
    for t in pipe.tracker.confirmed():
        est = t.estimate
        row = {"id": t.id, "center": [float(v) for v in t.center], "extent_cm": [float(100 * v) for v in t.extent],
               "hits": t.hits, "views": len(t.buffer), "points": len(t.points),
               "floor_z": float(t.floor_z) if np.isfinite(t.floor_z) else None}  # fmt: skip
        if est is not None and len(est.vertices):
            bottom = float(est.vertices[:, 2].min())
            row.update(mesh_bottom_z=bottom, mesh_top_z=float(est.vertices[:, 2].max()), num_views=est.num_views,
                       mesh_extent_cm=[float(v) for v in 100 * np.ptp(est.vertices, axis=0)])  # fmt: skip
            if row["floor_z"] is not None:
                row["bottom_above_floor_cm"] = 100 * (bottom - row["floor_z"])
            if table_z is not None:
                row["bottom_above_table_cm"] = 100 * (bottom - table_z)
        if labels:
            row["object"] = label_of(t.center, labels, match_m)
        rows.append(row)
    return rows


def summarise(rows: list[dict], labels: list[dict], frames: list[dict], table_z: float | None) -> dict:
    """The target's checks: every labelled object one track, no other track, mesh bottoms within 2 cm."""
    used = [f for f in frames if f["skipped"] is None]
    standing = [o for o in labels if o.get("standing", True)]
    per_object = {o["name"]: [r["id"] for r in rows if r.get("object") == o["name"]] for o in labels}
    bottoms = [abs(r["bottom_above_table_cm"]) for r in rows if "bottom_above_table_cm" in r and r.get("object")]
    totals = [f["total_ms"] for f in used if "total_ms" in f]
    counts = [len(f["confirmed"]) for f in frames]
    return {
        "frames": len(frames),
        "frames_used": len(used),
        "skip_reasons": {r: sum(f["skipped"] == r for f in frames) for r in {f["skipped"] for f in frames} - {None}},
        "tracks_final": len(rows),
        "tracks_per_object": per_object,
        "standing_objects_found_once": sum(len(per_object[o["name"]]) == 1 for o in standing),
        "standing_objects_labelled": len(standing),
        "tracks_off_labelled_objects": [r["id"] for r in rows if labels and r.get("object") is None],
        "mesh_bottom_above_table_cm_max_abs": max(bottoms) if bottoms else None,
        "table_z": table_z,
        "confirmed_tracks_per_frame": counts,
        "frame_ms_p50": float(np.median(totals)) if totals else None,
        "frame_ms_p95": float(np.percentile(totals, 95)) if totals else None,
        "stage_ms_p50": {k: float(np.median([f.get(f"{k}_ms", 0.0) for f in used]))
                         for k in ("segmentation", "tracking", "views", "evidence", "network", "pose")} if used else {},
    }  # fmt: skip


def _box_corners(center: np.ndarray, extent: np.ndarray) -> np.ndarray:
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=float)
    return center + 0.5 * signs * extent


def _draw_frame(ax, rec: Recording, pipe, frame: int) -> None:
    """The recording's frame ``frame`` with every confirmed track's box projected into it."""
    import matplotlib.pyplot as plt

    from vtr_perception.geometry.cameras import invert

    ax.imshow(read_rgb(rec.files[frame][0]))
    T_cw, K = invert(rec.T_world_camera[frame]), rec.intrinsics
    edges = [(a, b) for a in range(8) for b in range(a + 1, 8) if bin(a ^ b).count("1") == 1]
    for t in pipe.tracker.confirmed():
        c = (T_cw[:3, :3] @ _box_corners(t.center, t.extent).T).T + T_cw[:3, 3]
        if (c[:, 2] <= 0.05).any():
            continue
        uv = np.stack([K.fx * c[:, 0] / c[:, 2] + K.cx, K.fy * c[:, 1] / c[:, 2] + K.cy], axis=1)
        color = plt.cm.tab10(t.id % 10)
        for a, b in edges:
            ax.plot(uv[[a, b], 0], uv[[a, b], 1], color=color, lw=1.5)
        ax.text(uv[:, 0].min(), uv[:, 1].min(), str(t.id), color=color, fontsize=11, weight="bold")
    ax.set_xlim(0, K.width)
    ax.set_ylim(K.height, 0)
    ax.set_title(f"frame {rec.indices[frame]}: confirmed tracks' boxes")
    ax.axis("off")


def _draw_timeline(ax, frames: list[dict]) -> None:
    """Which tracks are confirmed at each frame (stability): one row per track ever confirmed."""
    import matplotlib.pyplot as plt

    ids = sorted({i for f in frames for i in f["confirmed"]})
    x = [f["frame"] for f in frames]
    for row, i in enumerate(ids):
        on = [xx for xx, f in zip(x, frames, strict=True) if i in f["confirmed"]]
        ax.plot(on, [row] * len(on), "s", ms=3, color=plt.cm.tab10(i % 10))
    ax.set_yticks(range(len(ids)), [str(i) for i in ids])
    ax.set_xlabel("recording frame")
    ax.set_ylabel("track id")
    ax.set_title(f"confirmed tracks per frame ({len(ids)} tracks ever confirmed)")


def draw(path: Path, rec: Recording, pipe, rows: list[dict], labels: list[dict], frames: list[dict],
         show_frame: bool = False) -> None:  # fmt: skip
    """Left: which tracks are confirmed when (or, with ``show_frame``, the last frame with the tracks' boxes:
    the recording's own image, so not for committing data under a restrictive licence); right: a top view of
    the tracks' points and the labelled footprints."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_img, ax_top) = plt.subplots(1, 2, figsize=(13, 5))
    if show_frame:
        _draw_frame(ax_img, rec, pipe, len(rec.indices) - 1)
    else:
        _draw_timeline(ax_img, frames)
    for t in pipe.tracker.confirmed():
        if len(t.points):
            ax_top.scatter(t.points[:, 0], t.points[:, 1], s=1, color=plt.cm.tab10(t.id % 10))
            ax_top.text(t.center[0], t.center[1], str(t.id), fontsize=10, weight="bold")
    for o in labels:
        (x, y), (hx, hy) = o["xy"], o.get("half_xy", (0.0, 0.0))
        ax_top.add_patch(plt.Rectangle((x - hx, y - hy), 2 * hx, 2 * hy, fill=False, ls="--", color="k", lw=0.8))
        ax_top.annotate(o["name"], o["xy"], textcoords="offset points", xytext=(5, -12), fontsize=8)
    cams = rec.T_world_camera[:, :3, 3]
    ax_top.plot(cams[:, 0], cams[:, 1], "-", color="0.7", lw=0.8, label="camera path")
    ax_top.set_aspect("equal")
    ax_top.legend(loc="best", fontsize=8)
    ax_top.set_title(f"top view (world m): {len(rows)} tracks; dashed = labelled footprints")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("convert", "run", "nodes"):
        s = sub.add_parser(name)
        s.add_argument("data", help="recording directory (camera-intrinsics.txt, frame-XXXXXX.*)")
        s.add_argument("--start", type=int, default=0, help="first frame number")
        s.add_argument("--stop", type=int, default=None, help="frame number to stop before")
        s.add_argument("--step", type=int, default=25, help="use every n-th frame")
        s.add_argument("--rate", type=float, default=2.0, help="frames per second of the bag / the stamps (Hz)")
    sub.choices["convert"].add_argument("bag", help="new rosbag2 directory")
    for name in ("run", "nodes"):
        s = sub.choices[name]
        s.add_argument("--name", default="redkitchen", help="result name: benchmarks/results/real_recording_<name>")
        s.add_argument("--objects", default=None, help="JSON file: [{name, xy, half_xy, standing}] on the table")
        s.add_argument("--match-m", type=float, default=0.05,
                       help="a track centred within this of a labelled object's footprint is that object")  # fmt: skip
        s.add_argument("--runtime", default="onnxruntime", choices=("auto", "onnxruntime", "torch", "tensorrt"))
        s.add_argument("--out", default=None, help="result JSON (default benchmarks/results/real_recording_<name>...)")
    run = sub.choices["run"]
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="PerceptionConfig override")
    run.add_argument(
        "--show-frame",
        action="store_true",
        help="draw the last frame's image with the boxes instead of the timeline (where its licence permits)",
    )
    return p


def config_with(overrides: list[str]) -> PerceptionConfig:
    """PerceptionConfig with KEY=VALUE overrides (values parsed as JSON where they parse, else strings)."""
    import dataclasses

    values = {}
    names = {f.name for f in dataclasses.fields(PerceptionConfig)}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or key not in names:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE with KEY a PerceptionConfig field")
        try:
            values[key] = json.loads(raw)
        except json.JSONDecodeError:
            values[key] = raw
    return PerceptionConfig(**values)


def run(args: argparse.Namespace, rec: Recording) -> int:
    from vtr_perception.infer import load_backend

    config = config_with(args.set)
    labels = json.loads(Path(args.objects).read_text()) if args.objects else []
    backend = load_backend(args.runtime, intra_op_threads=2)
    played = play(rec, config, backend, args.rate)
    table_z = dominant_height(played["table_heights"])
    rows = track_rows(played["pipeline"], labels, args.match_m, table_z)
    summary = summarise(rows, labels, played["frames"], table_z)
    out = Path(args.out) if args.out else RESULTS_DIR / f"real_recording_{args.name}.json"
    payload = {"recording": str(args.data), "frames_used": rec.indices, "rate_hz": args.rate,
               "gravity_rotation": rec.R_gravity.tolist(), "intrinsics": vars(rec.intrinsics),
               "overrides": args.set, "labelled_objects": labels, "summary": summary, "tracks": rows,
               "tracks_ever_confirmed": played["tracks_ever_confirmed"], "per_frame": played["frames"]}  # fmt: skip
    write_result(out.stem, payload, path=out)
    draw(out.with_suffix(".png"), rec, played["pipeline"], rows, labels, played["frames"], args.show_frame)
    s = summary
    print(f"{s['frames_used']}/{s['frames']} frames used; {s['tracks_final']} tracks; "
          f"standing objects found once {s['standing_objects_found_once']}/{s['standing_objects_labelled']}; "
          f"off-object tracks {s['tracks_off_labelled_objects']}; frame p50 {s['frame_ms_p50']} ms")  # fmt: skip
    for r in rows:
        print(f"  track {r['id']}: {r.get('object')} at {np.round(r['center'], 3).tolist()} extent "
              f"{np.round(r['extent_cm'], 1).tolist()} cm, views {r['views']}, bottom above table "
              f"{r.get('bottom_above_table_cm')}")  # fmt: skip
    print(f"wrote {out} and {out.with_suffix('.png')}")
    return 0


def _node_rows(out: Path, labels: list[dict], match_m: float, table_z: float | None) -> list[dict]:
    """One row per object `demo --bag` wrote: position, views, mesh bottom against the table, the labelled object."""
    from vtr_perception.geometry.meshing import load_mesh

    poses = {o["id"]: o for o in json.loads((out / "poses.json").read_text())["objects"]}
    rows = []
    for o in json.loads((out / "summary.json").read_text())["objects"]:
        pos = poses.get(o["id"], {}).get("estimated_position")
        row = {"id": o["id"], "views": o["views"], "position": pos}
        mesh_file = out / f"object_{o['id']}.ply"
        if mesh_file.exists() and table_z is not None:
            vertices = np.asarray(load_mesh(mesh_file).vertices)
            row["bottom_above_table_cm"] = 100 * (float(vertices[:, 2].min()) - table_z)
            row["mesh_extent_cm"] = [float(v) for v in 100 * np.ptp(vertices, axis=0)]
        if labels and pos is not None:
            row["object"] = label_of(np.asarray(pos), labels, match_m)
        rows.append(row)
    return rows


def run_nodes(args: argparse.Namespace, rec: Recording) -> int:
    """The recording as a bag through `vtr-perception demo --bag` (the nodes as processes, over DDS)."""
    import os
    import subprocess
    import tempfile

    from vtr_perception.perception.segmentation import segment_depth

    labels = json.loads(Path(args.objects).read_text()) if args.objects else []
    heights = [segment_depth(load_depth_m(rec.files[k][1]), rec.intrinsics, rec.T_world_camera[k], PerceptionConfig())
               for k in range(0, len(rec.indices), 5)]  # fmt: skip
    table_z = dominant_height([h for h in (_table_height(s.plane_world) for s in heights) if h is not None])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(RESULTS_DIR.parents[1]), os.environ.get("PYTHONPATH", "")])}
    with tempfile.TemporaryDirectory() as tmp:
        bag, out = Path(tmp) / "bag", Path(tmp) / "demo"
        write_bag(rec, bag, args.rate)
        cmd = [sys.executable, "-m", "vtr_perception.cli", "demo", "--bag", str(bag), "--out", str(out),
               "--backend", args.runtime]  # fmt: skip
        t0 = time.monotonic()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        wall_s = time.monotonic() - t0
        if proc.returncode != 0 or not (out / "summary.json").exists():
            raise ValueError(f"demo --bag failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()[-300:]}")
        rows = _node_rows(out, labels, args.match_m, table_z)
        log = (out / "logs" / "reconstruction.log").read_text()
    warned = [line.split("frame skipped (")[1].split(")")[0] for line in log.splitlines() if "frame skipped (" in line]
    standing = [o["name"] for o in labels if o.get("standing", True)]
    summary = {"objects": len(rows), "wall_s": wall_s, "table_z": table_z,
               "standing_objects_found_once": sum(sum(r.get("object") == n for r in rows) == 1 for n in standing),
               "standing_objects_labelled": len(standing),
               "objects_off_labelled_objects": [r["id"] for r in rows if labels and r.get("object") is None],
               "skip_warnings_logged": {r: warned.count(r) for r in sorted(set(warned))}}  # fmt: skip
    out_json = Path(args.out) if args.out else RESULTS_DIR / f"real_recording_{args.name}_nodes.json"
    payload = {"recording": str(args.data), "frames_used": rec.indices, "rate_hz": args.rate,
               "demo_command": f"python -m vtr_perception.cli demo --bag BAG --out DIR --backend {args.runtime}",
               "labelled_objects": labels, "summary": summary, "objects": rows}  # fmt: skip
    write_result(out_json.stem, payload, path=out_json)
    print(f"{len(rows)} objects through the nodes: {[(r['id'], r.get('object')) for r in rows]}; {summary}")
    print(f"wrote {out_json}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        rec = load_recording(args.data, args.start, args.stop, args.step)
        if args.command == "convert":
            counts = write_bag(rec, args.bag, args.rate)
            print(f"wrote {sum(counts.values())} messages of {len(rec.indices)} frames to {args.bag}: {counts}")
            return 0
        return run_nodes(args, rec) if args.command == "nodes" else run(args, rec)
    except (ValueError, FileNotFoundError, OSError) as exc:
        print(f"real_recording: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
