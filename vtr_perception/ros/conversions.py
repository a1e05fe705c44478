"""ROS message <-> numpy conversions: images, camera info, poses, stamps, point clouds, markers.

Pure functions (no node, no rclpy import; only the message packages), so tests and nodes
call them directly. cv_bridge is not used: the PyPI ``cv-bridge`` is ROS 1 code that fails
with NumPy 2, and these few encodings are simple to decode exactly.

Images:
- ``image_to_numpy`` returns the raw pixels, shape (H, W) or (H, W, C), native byte order,
  honouring ``step`` (row padding) and ``is_bigendian``.
- ``image_to_rgb`` always returns (H, W, 3) uint8 RGB (rgb8, bgr8, rgba8, bgra8, mono8 and
  the OpenCV names 8UC1 / 8UC3 (read as BGR, as OpenCV writes it)); alpha is dropped.
- ``image_to_depth`` returns (H, W) float32 metres with NaN where there is no measurement:
  16UC1 / mono16 hold millimetres (0 = none), 32FC1 holds metres (non-finite or <= 0 = none).
- ``image_to_mask`` returns (H, W) int32 instance ids (mono8, 8UC1, 16UC1, mono16, 32SC1).
Every malformed message raises ValueError naming what is wrong.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Pose, PoseArray, PoseStamped, Quaternion, Transform, TransformStamped, Vector3
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker

from vtr_perception.geometry.cameras import Intrinsics, matrix_from_quaternion, quaternion_from_matrix

# encoding -> (element dtype, channels)
ENCODINGS: dict[str, tuple[str, int]] = {
    "rgb8": ("u1", 3),
    "bgr8": ("u1", 3),
    "rgba8": ("u1", 4),
    "bgra8": ("u1", 4),
    "mono8": ("u1", 1),
    "mono16": ("u2", 1),
    "8UC1": ("u1", 1),
    "8UC3": ("u1", 3),
    "8UC4": ("u1", 4),
    "16UC1": ("u2", 1),
    "16SC1": ("i2", 1),
    "32SC1": ("i4", 1),
    "32FC1": ("f4", 1),
    "64FC1": ("f8", 1),
}
# colour encodings -> channel order that gives RGB
_RGB_CHANNELS: dict[str, tuple[int, ...]] = {
    "rgb8": (0, 1, 2),
    "rgba8": (0, 1, 2),
    "bgr8": (2, 1, 0),
    "bgra8": (2, 1, 0),
    "8UC3": (2, 1, 0),
    "8UC4": (2, 1, 0),
    "mono8": (0, 0, 0),
    "8UC1": (0, 0, 0),
}
DEPTH_ENCODINGS = ("16UC1", "mono16", "32FC1")
MASK_ENCODINGS = ("mono8", "8UC1", "16UC1", "mono16", "32SC1")
_INT32_MAX = 2**31 - 1


# ---------------------------------------------------------------- stamps and headers


def stamp_to_seconds(stamp: Time) -> float:
    return float(stamp.sec) + 1e-9 * float(stamp.nanosec)


def seconds_to_stamp(seconds: float) -> Time:
    if not np.isfinite(seconds):
        raise ValueError(f"stamp must be finite, got {seconds}")
    nanoseconds = int(round(float(seconds) * 1e9))
    sec, nanosec = divmod(nanoseconds, 1_000_000_000)
    if not -(2**31) <= sec <= _INT32_MAX:
        raise ValueError(f"stamp {seconds} s does not fit builtin_interfaces/Time")
    return Time(sec=sec, nanosec=nanosec)


def make_header(*, stamp: Time | float | None = None, frame_id: str = "") -> Header:
    """A Header from a Time message or float seconds (None: zero stamp)."""
    if stamp is None:
        stamp = Time()
    elif not isinstance(stamp, Time):
        stamp = seconds_to_stamp(stamp)
    return Header(stamp=stamp, frame_id=frame_id)


# ---------------------------------------------------------------- images


def _element_dtype(encoding: str, big_endian: bool) -> tuple[np.dtype, int]:
    if encoding not in ENCODINGS:
        raise ValueError(f"unsupported image encoding {encoding!r}; supported: {', '.join(ENCODINGS)}")
    code, channels = ENCODINGS[encoding]
    return np.dtype(code).newbyteorder(">" if big_endian else "<"), channels


def image_to_numpy(msg: Image) -> np.ndarray:
    """Raw pixels (H, W) or (H, W, C) in native byte order; a copy, independent of ``msg``."""
    dtype, channels = _element_dtype(msg.encoding, bool(msg.is_bigendian))
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height == 0 or width == 0:
        raise ValueError(f"image ({msg.encoding}) is empty: {width}x{height}")
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise ValueError(
            f"image step {step} is smaller than width*bytes_per_pixel = {width}*{channels * dtype.itemsize} "
            f"= {row_bytes} for {msg.encoding}"
        )
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size < step * height:
        raise ValueError(f"image data has {data.size} bytes, expected step*height = {step}*{height} = {step * height}")
    rows = data[: step * height].reshape(height, step)[:, :row_bytes]
    pixels = np.array(rows, order="C").view(dtype).reshape(height, width, channels)  # a copy, never a view
    pixels = pixels.astype(dtype.newbyteorder("="), copy=False)
    return pixels[..., 0] if channels == 1 else pixels


def image_to_rgb(msg: Image) -> np.ndarray:
    """(H, W, 3) uint8 RGB from a colour or mono8 image."""
    if msg.encoding not in _RGB_CHANNELS:
        raise ValueError(f"cannot read {msg.encoding!r} as a colour image; expected one of {', '.join(_RGB_CHANNELS)}")
    pixels = image_to_numpy(msg)  # a copy already
    channels = _RGB_CHANNELS[msg.encoding]
    if pixels.ndim == 2:
        return np.repeat(pixels[..., None], 3, axis=2)
    # slices, not a fancy index: a fancy index costs 3 ms at 640x480, rgb8 then costs nothing
    order = slice(0, 3) if channels == (0, 1, 2) else slice(2, None, -1)
    return np.ascontiguousarray(pixels[..., order])


def image_to_depth(msg: Image) -> np.ndarray:
    """(H, W) float32 depth in metres, NaN where there is no measurement."""
    if msg.encoding not in DEPTH_ENCODINGS:
        raise ValueError(f"cannot read {msg.encoding!r} as depth; expected one of {', '.join(DEPTH_ENCODINGS)}")
    raw = image_to_numpy(msg)
    if raw.dtype == np.uint16:
        depth = raw.astype(np.float32) * np.float32(1e-3)
        depth[raw == 0] = np.nan
        return depth
    depth = raw.astype(np.float32)
    with np.errstate(invalid="ignore"):
        depth[~(np.isfinite(depth) & (depth > 0))] = np.nan
    return depth


def image_to_mask(msg: Image) -> np.ndarray:
    """(H, W) int32 instance ids (0 is usually background)."""
    if msg.encoding not in MASK_ENCODINGS:
        raise ValueError(f"cannot read {msg.encoding!r} as a mask; expected one of {', '.join(MASK_ENCODINGS)}")
    return image_to_numpy(msg).astype(np.int32)


def _checked_pixels(array: np.ndarray, encoding: str) -> np.ndarray:
    dtype, channels = _element_dtype(encoding, big_endian=False)
    array = np.asarray(array)
    expected = "(H, W)" if channels == 1 else f"(H, W, {channels})"
    shape_ok = array.ndim == 2 if channels == 1 else array.ndim == 3 and array.shape[2] == channels
    if channels == 1 and array.ndim == 3 and array.shape[2] == 1:
        array, shape_ok = array[..., 0], True
    if not shape_ok or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{encoding} needs a non-empty {expected} array, got shape {array.shape}")
    if dtype.kind in "iu":
        if array.dtype.kind not in "iub":
            raise ValueError(f"{encoding} needs integer pixels, got {array.dtype}")
        info = np.iinfo(dtype)
        if array.size and (array.min() < info.min or array.max() > info.max):
            raise ValueError(f"{encoding} pixel values must lie in [{info.min}, {info.max}]")
    elif array.dtype.kind not in "iuf":
        raise ValueError(f"{encoding} needs numeric pixels, got {array.dtype}")
    return array.astype(dtype, copy=False)


def numpy_to_image(
    array: np.ndarray,
    encoding: str,
    *,
    stamp: Time | float | None = None,
    frame_id: str = "",
    header: Header | None = None,
    row_padding: int = 0,
    big_endian: bool = False,
) -> Image:
    """An Image of ``array`` in ``encoding`` (pixels as given: pass BGR data for bgr8).

    ``row_padding`` adds that many bytes at the end of every row (``step`` grows), and
    ``big_endian`` writes multi-byte pixels big-endian; both exist to exercise readers.
    """
    pixels = _checked_pixels(array, encoding)
    if row_padding < 0:
        raise ValueError(f"row_padding must be >= 0, got {row_padding}")
    height, width = pixels.shape[:2]
    if big_endian:
        pixels = pixels.astype(pixels.dtype.newbyteorder(">"))
    rows = np.ascontiguousarray(pixels).view(np.uint8).reshape(height, -1)
    if row_padding:
        rows = np.concatenate([rows, np.zeros((height, row_padding), np.uint8)], axis=1)
    msg = Image()
    msg.header = header if header is not None else make_header(stamp=stamp, frame_id=frame_id)
    msg.height, msg.width, msg.encoding = int(height), int(width), encoding
    msg.is_bigendian = int(big_endian)
    msg.step = int(rows.shape[1])
    msg.data = rows.tobytes()
    return msg


# ---------------------------------------------------------------- camera info


def camera_info_to_intrinsics(msg: CameraInfo) -> Intrinsics:
    """Intrinsics of the images that come with ``msg`` (K, then region of interest and binning).

    The images are used as they arrive, so they must be undistorted (or nearly so): a
    non-zero distortion vector gives a warning, not an error, since many drivers publish
    small calibration coefficients for images that are already rectified.
    """
    k = np.asarray(msg.k, dtype=np.float64)
    if k.size != 9 or not np.any(k) or not np.all(np.isfinite(k)):
        raise ValueError(f"CameraInfo.k is not a calibrated 3x3 matrix: {k.tolist()}")
    if msg.width == 0 or msg.height == 0:
        raise ValueError(f"CameraInfo has no image size: {msg.width}x{msg.height}")
    d = np.asarray(msg.d, dtype=np.float64)
    if d.size and np.any(np.abs(d) > 1e-9):
        warnings.warn(
            f"CameraInfo ({msg.distortion_model}) has non-zero distortion {d.tolist()}; images are used as is, "
            "feed rectified images (image_rect) for exact geometry",
            stacklevel=2,
        )
    intrinsics = Intrinsics.from_camera_info(k, int(msg.width), int(msg.height))
    roi = msg.roi
    if roi.width and roi.height:
        intrinsics = intrinsics.cropped(roi.x_offset, roi.y_offset, int(roi.width), int(roi.height))
    bin_x, bin_y = max(int(msg.binning_x), 1), max(int(msg.binning_y), 1)
    if bin_x > 1 or bin_y > 1:
        intrinsics = intrinsics.scaled(intrinsics.width // bin_x, intrinsics.height // bin_y)
    return intrinsics


def intrinsics_to_camera_info(
    intrinsics: Intrinsics, *, stamp: Time | float | None = None, frame_id: str = ""
) -> CameraInfo:
    fields = intrinsics.to_camera_info()
    msg = CameraInfo(header=make_header(stamp=stamp, frame_id=frame_id))
    msg.width, msg.height, msg.distortion_model = fields["width"], fields["height"], fields["distortion_model"]
    msg.d, msg.k, msg.r, msg.p = fields["d"], fields["k"], fields["r"], fields["p"]
    return msg


# ---------------------------------------------------------------- poses


def _rigid(T: np.ndarray, what: str = "transform") -> np.ndarray:
    T = np.asarray(T, dtype=np.float64)
    if T.shape != (4, 4) or not np.all(np.isfinite(T)):
        raise ValueError(f"{what} must be a finite 4x4 matrix, got shape {T.shape}")
    R = T[:3, :3]
    if not np.allclose(R.T @ R, np.eye(3), atol=1e-5) or np.linalg.det(R) < 0:
        raise ValueError(f"{what} rotation is not orthonormal with det +1")
    return T


def _quaternion_array(q: Quaternion) -> np.ndarray:
    values = np.array([q.x, q.y, q.z, q.w], dtype=np.float64)
    norm = np.linalg.norm(values)
    if not np.isfinite(norm) or norm < 1e-9:
        raise ValueError(f"quaternion {values.tolist()} has zero length or is not finite")
    return values / norm


def _matrix(translation: np.ndarray, q: Quaternion) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = matrix_from_quaternion(_quaternion_array(q))
    T[:3, 3] = translation
    if not np.all(np.isfinite(T)):
        raise ValueError(f"pose translation is not finite: {translation.tolist()}")
    return T


def pose_to_matrix(pose: Pose | PoseStamped) -> np.ndarray:
    """4x4 matrix of a Pose (or the pose of a PoseStamped)."""
    if isinstance(pose, PoseStamped):
        pose = pose.pose
    return _matrix(np.array([pose.position.x, pose.position.y, pose.position.z]), pose.orientation)


def transform_to_matrix(transform: Transform | TransformStamped) -> np.ndarray:
    if isinstance(transform, TransformStamped):
        transform = transform.transform
    t = transform.translation
    return _matrix(np.array([t.x, t.y, t.z]), transform.rotation)


def _quaternion_msg(T: np.ndarray) -> Quaternion:
    x, y, z, w = quaternion_from_matrix(T[:3, :3])
    return Quaternion(x=float(x), y=float(y), z=float(z), w=float(w))


def matrix_to_pose(T: np.ndarray) -> Pose:
    T = _rigid(T, "pose")
    x, y, z = (float(v) for v in T[:3, 3])
    return Pose(position=Point(x=x, y=y, z=z), orientation=_quaternion_msg(T))


def matrix_to_pose_stamped(T: np.ndarray, *, stamp: Time | float | None = None, frame_id: str = "") -> PoseStamped:
    return PoseStamped(header=make_header(stamp=stamp, frame_id=frame_id), pose=matrix_to_pose(T))


def matrix_to_transform_stamped(
    T: np.ndarray, *, stamp: Time | float | None = None, frame_id: str = "", child_frame_id: str = ""
) -> TransformStamped:
    """TransformStamped T_frame_child (maps points in ``child_frame_id`` into ``frame_id``)."""
    T = _rigid(T)
    x, y, z = (float(v) for v in T[:3, 3])
    return TransformStamped(
        header=make_header(stamp=stamp, frame_id=frame_id),
        child_frame_id=child_frame_id,
        transform=Transform(translation=Vector3(x=x, y=y, z=z), rotation=_quaternion_msg(T)),
    )


def matrices_to_pose_array(
    transforms: Sequence[np.ndarray] | np.ndarray, *, stamp: Time | float | None = None, frame_id: str = ""
) -> PoseArray:
    return PoseArray(header=make_header(stamp=stamp, frame_id=frame_id), poses=[matrix_to_pose(T) for T in transforms])


def pose_array_to_matrices(msg: PoseArray) -> np.ndarray:
    """(N, 4, 4) matrices, in message order."""
    return np.array([pose_to_matrix(p) for p in msg.poses]).reshape(-1, 4, 4)


# ---------------------------------------------------------------- point clouds

_POINTFIELD_TYPES: dict[int, str] = {
    PointField.INT8: "i1",
    PointField.UINT8: "u1",
    PointField.INT16: "i2",
    PointField.UINT16: "u2",
    PointField.INT32: "i4",
    PointField.UINT32: "u4",
    PointField.FLOAT32: "f4",
    PointField.FLOAT64: "f8",
}
_DTYPE_POINTFIELD = {code: datatype for datatype, code in _POINTFIELD_TYPES.items()}
ERROR_CLOUD_DTYPE = np.dtype([(name, "<f4") for name in ("x", "y", "z", "occupancy", "error")])


def structured_to_pointcloud2(
    points: np.ndarray, *, stamp: Time | float | None = None, frame_id: str = ""
) -> PointCloud2:
    """An unorganised (height 1) PointCloud2 from an (N,) structured array of scalar fields."""
    points = np.asarray(points)
    if points.dtype.names is None or points.ndim != 1:
        raise ValueError(f"point cloud needs an (N,) structured array, got {points.dtype} with shape {points.shape}")
    fields = []
    for name in points.dtype.names:
        dtype, offset = points.dtype.fields[name][:2]
        code = dtype.base.str[1:]
        if dtype.shape or code not in _DTYPE_POINTFIELD:
            raise ValueError(f"point cloud field {name!r} has unsupported type {dtype}")
        fields.append(PointField(name=name, offset=offset, datatype=_DTYPE_POINTFIELD[code], count=1))
    little = points.astype(points.dtype.newbyteorder("<"), copy=False)
    msg = PointCloud2(header=make_header(stamp=stamp, frame_id=frame_id), fields=fields)
    msg.height, msg.width = 1, int(points.shape[0])
    msg.is_bigendian, msg.is_dense = False, True
    msg.point_step = int(points.dtype.itemsize)
    msg.row_step = msg.point_step * msg.width
    msg.data = np.ascontiguousarray(little).tobytes()
    return msg


def error_cloud(
    points: np.ndarray,
    occupancy: np.ndarray,
    error: np.ndarray,
    *,
    stamp: Time | float | None = None,
    frame_id: str = "",
) -> PointCloud2:
    """The ``objects/error`` cloud: float32 x, y, z, occupancy, error per voxel centre."""
    points = np.asarray(points, dtype=np.float32)
    occupancy, error = np.asarray(occupancy, np.float32).reshape(-1), np.asarray(error, np.float32).reshape(-1)
    if points.ndim != 2 or points.shape[1] != 3 or not (len(points) == len(occupancy) == len(error)):
        raise ValueError(
            f"error cloud needs (N, 3) points with N occupancy and error values, got {points.shape}, "
            f"{occupancy.shape}, {error.shape}"
        )
    cloud = np.empty(len(points), ERROR_CLOUD_DTYPE)
    cloud["x"], cloud["y"], cloud["z"] = points.T
    cloud["occupancy"], cloud["error"] = occupancy, error
    return structured_to_pointcloud2(cloud, stamp=stamp, frame_id=frame_id)


def pointcloud2_to_structured(msg: PointCloud2) -> np.ndarray:
    """(height*width,) structured array of the scalar fields, native byte order."""
    order = ">" if msg.is_bigendian else "<"
    names, formats, offsets = [], [], []
    for f in msg.fields:
        if f.datatype not in _POINTFIELD_TYPES:
            raise ValueError(f"point cloud field {f.name!r} has unknown datatype {f.datatype}")
        names.append(f.name)
        code = order + _POINTFIELD_TYPES[f.datatype]
        formats.append((code, (int(f.count),)) if f.count > 1 else code)
        offsets.append(int(f.offset))
    point_step, width, height = int(msg.point_step), int(msg.width), int(msg.height)
    dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": point_step})
    if msg.row_step < point_step * width:
        raise ValueError(f"point cloud row_step {msg.row_step} < point_step*width = {point_step * width}")
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size < msg.row_step * height:
        raise ValueError(f"point cloud data has {data.size} bytes, expected row_step*height = {msg.row_step * height}")
    rows = data[: msg.row_step * height].reshape(height, msg.row_step)[:, : point_step * width]
    points = np.array(rows, order="C").view(dtype).reshape(-1)
    native = np.dtype([(n, dtype.fields[n][0].newbyteorder("=")) for n in names])
    out = np.empty(points.shape, native)
    for n in names:
        out[n] = points[n]
    return out


# ---------------------------------------------------------------- markers


def color_for_id(object_id: int, *, alpha: float = 1.0) -> ColorRGBA:
    """A distinct, stable colour per id (golden-ratio hue steps, full saturation)."""
    hue = (int(object_id) * 0.618033988749895) % 1.0
    i, f = int(hue * 6.0), hue * 6.0 - int(hue * 6.0)
    v, p, q, t = 0.95, 0.25, 0.95 - 0.7 * f, 0.25 + 0.7 * f
    r, g, b = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i % 6]
    return ColorRGBA(r=float(r), g=float(g), b=float(b), a=float(alpha))


def _color(color: ColorRGBA | Sequence[float]) -> ColorRGBA:
    if isinstance(color, ColorRGBA):
        return color
    values = [float(c) for c in color] + [1.0] * (4 - len(color))
    return ColorRGBA(r=values[0], g=values[1], b=values[2], a=values[3])


def _marker(kind: int, *, marker_id: int, ns: str, stamp, frame_id: str, pose: np.ndarray | None) -> Marker:
    marker = Marker(header=make_header(stamp=stamp, frame_id=frame_id), ns=ns, id=int(marker_id), type=kind)
    marker.action = Marker.ADD
    marker.pose = matrix_to_pose(np.eye(4) if pose is None else pose)
    return marker


def mesh_marker(
    vertices: np.ndarray,
    triangles: np.ndarray,
    *,
    marker_id: int,
    ns: str = "objects",
    frame_id: str = "",
    stamp: Time | float | None = None,
    color: ColorRGBA | Sequence[float] = (0.8, 0.8, 0.8, 1.0),
    pose: np.ndarray | None = None,
) -> Marker:
    """TRIANGLE_LIST marker of a mesh (vertices in the marker frame, ``pose`` places it)."""
    vertices = np.asarray(vertices, dtype=np.float64)
    triangles = np.asarray(triangles)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or triangles.ndim != 2 or triangles.shape[1] != 3:
        raise ValueError(f"mesh needs (V, 3) vertices and (F, 3) triangles, got {vertices.shape}, {triangles.shape}")
    if triangles.size and (triangles.min() < 0 or triangles.max() >= len(vertices)):
        raise ValueError(f"mesh triangle indices must lie in [0, {len(vertices)})")
    if not np.all(np.isfinite(vertices)):
        raise ValueError("mesh vertices are not finite")
    marker = _marker(Marker.TRIANGLE_LIST, marker_id=marker_id, ns=ns, stamp=stamp, frame_id=frame_id, pose=pose)
    marker.scale = Vector3(x=1.0, y=1.0, z=1.0)
    marker.color = _color(color)
    # One Point per vertex, shared by the corners that use it: building Points is the costly part in Python,
    # and a marching-cubes vertex is the corner of about six triangles.
    points = [Point(x=x, y=y, z=z) for x, y, z in vertices.tolist()]
    marker.points = [points[i] for i in triangles.reshape(-1).tolist()]
    return marker


def marker_triangles(marker: Marker) -> np.ndarray:
    """(F, 3, 3) triangle corners of a TRIANGLE_LIST marker, in the marker frame."""
    corners = np.array([[p.x, p.y, p.z] for p in marker.points], dtype=np.float64).reshape(-1, 3)
    if len(corners) % 3:
        raise ValueError(f"TRIANGLE_LIST marker has {len(corners)} points, not a multiple of 3")
    return corners.reshape(-1, 3, 3)


def text_marker(
    text: str,
    position: Sequence[float],
    *,
    marker_id: int,
    ns: str = "labels",
    frame_id: str = "",
    stamp: Time | float | None = None,
    color: ColorRGBA | Sequence[float] = (1.0, 1.0, 1.0, 1.0),
    height: float = 0.05,
) -> Marker:
    """TEXT_VIEW_FACING label at ``position``; ``height`` is the letter height in metres."""
    T = np.eye(4)
    T[:3, 3] = np.asarray(position, dtype=np.float64).reshape(3)
    marker = _marker(Marker.TEXT_VIEW_FACING, marker_id=marker_id, ns=ns, stamp=stamp, frame_id=frame_id, pose=T)
    marker.text = str(text)
    marker.scale = Vector3(x=0.0, y=0.0, z=float(height))
    marker.color = _color(color)
    return marker


def arrow_marker(
    start: Sequence[float],
    end: Sequence[float],
    *,
    marker_id: int,
    ns: str = "arrows",
    frame_id: str = "",
    stamp: Time | float | None = None,
    color: ColorRGBA | Sequence[float] = (1.0, 0.5, 0.0, 1.0),
    shaft_diameter: float = 0.01,
) -> Marker:
    """ARROW marker from ``start`` to ``end`` (e.g. a candidate view towards its target)."""
    marker = _marker(Marker.ARROW, marker_id=marker_id, ns=ns, stamp=stamp, frame_id=frame_id, pose=None)
    marker.points = [Point(x=float(a), y=float(b), z=float(c)) for a, b, c in (start, end)]
    marker.scale = Vector3(x=float(shaft_diameter), y=2.0 * float(shaft_diameter), z=3.0 * float(shaft_diameter))
    marker.color = _color(color)
    return marker


def delete_markers(marker_ids: Sequence[int], *, ns: str, frame_id: str = "") -> list[Marker]:
    """DELETE markers for ``marker_ids`` in namespace ``ns`` (e.g. when a track retires)."""
    return [Marker(header=make_header(frame_id=frame_id), ns=ns, id=int(i), action=Marker.DELETE) for i in marker_ids]


def delete_all_markers(*, ns: str = "", frame_id: str = "") -> Marker:
    """One DELETEALL marker (clears every marker of the publisher, or of ``ns`` in newer rviz)."""
    return Marker(header=make_header(frame_id=frame_id), ns=ns, action=Marker.DELETEALL)
