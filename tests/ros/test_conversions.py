"""Message <-> numpy conversions, checked against hand-built messages (not only round trips)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

pytest.importorskip("sensor_msgs.msg", exc_type=ImportError, reason="ROS 2 message packages not installed")

from builtin_interfaces.msg import Time  # noqa: E402
from geometry_msgs.msg import Pose, Quaternion  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField  # noqa: E402
from visualization_msgs.msg import Marker  # noqa: E402

from vtr_perception.geometry.cameras import Intrinsics, camera_from_angles  # noqa: E402
from vtr_perception.ros import conversions as conv  # noqa: E402

pytestmark = pytest.mark.ros
RNG = np.random.default_rng(7)


def raw_image(encoding: str, height: int, width: int, rows: list[bytes], *, big_endian: bool = False) -> Image:
    """An Image built by hand: each row given as bytes, padding included."""
    msg = Image(height=height, width=width, encoding=encoding, is_bigendian=int(big_endian), step=len(rows[0]))
    msg.data = b"".join(rows)
    return msg


# ---------------------------------------------------------------- images: hand-built messages


def test_rgb8_with_row_padding_reads_pixels_not_padding():
    # 2x2 rgb8, step 8 (6 bytes of pixels + 2 padding bytes that must be ignored)
    msg = raw_image("rgb8", 2, 2, [bytes([1, 2, 3, 4, 5, 6, 99, 99]), bytes([7, 8, 9, 10, 11, 12, 98, 98])])
    rgb = conv.image_to_rgb(msg)
    np.testing.assert_array_equal(rgb, [[[1, 2, 3], [4, 5, 6]], [[7, 8, 9], [10, 11, 12]]])
    assert rgb.dtype == np.uint8 and rgb.flags.c_contiguous


@pytest.mark.parametrize("encoding", ["bgr8", "8UC3"])
def test_bgr_is_returned_as_rgb(encoding):
    msg = raw_image(encoding, 1, 2, [bytes([1, 2, 3, 4, 5, 6, 0])])
    np.testing.assert_array_equal(conv.image_to_rgb(msg), [[[3, 2, 1], [6, 5, 4]]])
    np.testing.assert_array_equal(conv.image_to_numpy(msg), [[[1, 2, 3], [4, 5, 6]]])


def test_alpha_encodings_drop_alpha():
    rgba = raw_image("rgba8", 1, 1, [bytes([10, 20, 30, 255])])
    bgra = raw_image("bgra8", 1, 1, [bytes([10, 20, 30, 255])])
    np.testing.assert_array_equal(conv.image_to_rgb(rgba), [[[10, 20, 30]]])
    np.testing.assert_array_equal(conv.image_to_rgb(bgra), [[[30, 20, 10]]])


def test_mono8_becomes_grey_rgb_and_mask():
    msg = raw_image("mono8", 2, 3, [bytes([0, 1, 2, 0]), bytes([3, 4, 5, 0])])
    rgb = conv.image_to_rgb(msg)
    assert rgb.shape == (2, 3, 3)
    np.testing.assert_array_equal(rgb[..., 0], [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])
    mask = conv.image_to_mask(msg)
    assert mask.dtype == np.int32
    np.testing.assert_array_equal(mask, [[0, 1, 2], [3, 4, 5]])


@pytest.mark.parametrize("big_endian", [False, True])
def test_16uc1_depth_millimetres_to_metres_with_zero_as_nan(big_endian):
    fmt = ">HH" if big_endian else "<HH"
    rows = [struct.pack(fmt, 1500, 0) + b"\x00\x00\x00", struct.pack(fmt, 65535, 1) + b"\x00\x00\x00"]
    msg = raw_image("16UC1", 2, 2, rows, big_endian=big_endian)  # step 7: odd, not a multiple of 2
    depth = conv.image_to_depth(msg)
    assert depth.dtype == np.float32 and depth.shape == (2, 2)
    np.testing.assert_allclose(depth[0, 0], 1.5)
    assert np.isnan(depth[0, 1])
    np.testing.assert_allclose(depth[1], [65.535, 0.001], rtol=1e-6)
    np.testing.assert_array_equal(conv.image_to_mask(msg), [[1500, 0], [65535, 1]])


@pytest.mark.parametrize("big_endian", [False, True])
def test_32fc1_depth_invalid_values_become_nan(big_endian):
    fmt = (">" if big_endian else "<") + "ffff"
    msg = raw_image(
        "32FC1", 1, 4, [struct.pack(fmt, 0.75, 0.0, -1.0, float("inf")) + b"\x00" * 4], big_endian=big_endian
    )
    depth = conv.image_to_depth(msg)
    np.testing.assert_allclose(depth[0, 0], 0.75)
    assert np.isnan(depth[0, 1:]).all()


@pytest.mark.parametrize("big_endian", [False, True])
def test_32sc1_mask(big_endian):
    fmt = (">" if big_endian else "<") + "ii"
    msg = raw_image("32SC1", 1, 2, [struct.pack(fmt, 7, -1)], big_endian=big_endian)
    np.testing.assert_array_equal(conv.image_to_mask(msg), [[7, -1]])


# ---------------------------------------------------------------- images: round trips, every encoding

ROUND_TRIP = {
    "rgb8": lambda: RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8),
    "bgr8": lambda: RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8),
    "rgba8": lambda: RNG.integers(0, 256, (5, 7, 4), dtype=np.uint8),
    "bgra8": lambda: RNG.integers(0, 256, (5, 7, 4), dtype=np.uint8),
    "mono8": lambda: RNG.integers(0, 256, (5, 7), dtype=np.uint8),
    "mono16": lambda: RNG.integers(0, 65536, (5, 7), dtype=np.uint16),
    "16UC1": lambda: RNG.integers(0, 65536, (5, 7), dtype=np.uint16),
    "16SC1": lambda: RNG.integers(-32768, 32768, (5, 7), dtype=np.int16),
    "32SC1": lambda: RNG.integers(-(2**31), 2**31 - 1, (5, 7), dtype=np.int32),
    "32FC1": lambda: RNG.normal(size=(5, 7)).astype(np.float32),
    "64FC1": lambda: RNG.normal(size=(5, 7)),
}


@pytest.mark.parametrize("encoding", sorted(ROUND_TRIP))
@pytest.mark.parametrize("padding", [0, 3])
@pytest.mark.parametrize("big_endian", [False, True])
def test_numpy_image_round_trip(encoding, padding, big_endian):
    array = ROUND_TRIP[encoding]()
    msg = conv.numpy_to_image(array, encoding, stamp=12.5, frame_id="cam", row_padding=padding, big_endian=big_endian)
    itemsize = array.dtype.itemsize * (array.shape[2] if array.ndim == 3 else 1)
    assert msg.step == 7 * itemsize + padding
    assert len(msg.data) == msg.step * msg.height
    assert msg.is_bigendian == int(big_endian) and msg.header.frame_id == "cam"
    assert conv.stamp_to_seconds(msg.header.stamp) == 12.5
    back = conv.image_to_numpy(msg)
    assert back.dtype == array.dtype.newbyteorder("=") and back.dtype.isnative
    np.testing.assert_array_equal(back, array)


def test_big_endian_bytes_are_big_endian():
    msg = conv.numpy_to_image(np.array([[258]], np.uint16), "16UC1", big_endian=True)
    assert bytes(msg.data) == b"\x01\x02"


def test_image_to_numpy_returns_a_copy():
    msg = conv.numpy_to_image(np.zeros((2, 2), np.uint8), "mono8")
    out = conv.image_to_numpy(msg)
    out[:] = 5
    assert not any(msg.data)


# ---------------------------------------------------------------- images: malformed input


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"encoding": "yuv422"}, "unsupported image encoding"),
        ({"height": 0}, "empty"),
        ({"width": 0}, "empty"),
        ({"step": 5}, "smaller than width"),
        ({"data": bytes(11)}, "expected step\\*height"),
    ],
)
def test_malformed_images_raise_value_error(fields, message):
    msg = raw_image("rgb8", 2, 2, [bytes(6), bytes(6)])
    for key, value in fields.items():
        setattr(msg, key, value)
    with pytest.raises(ValueError, match=message):
        conv.image_to_numpy(msg)


def test_wrong_kind_of_image_raises_value_error():
    rgb = conv.numpy_to_image(np.zeros((2, 2, 3), np.uint8), "rgb8")
    depth = conv.numpy_to_image(np.zeros((2, 2), np.float32), "32FC1")
    with pytest.raises(ValueError, match="as depth"):
        conv.image_to_depth(rgb)
    with pytest.raises(ValueError, match="colour image"):
        conv.image_to_rgb(depth)
    with pytest.raises(ValueError, match="as a mask"):
        conv.image_to_mask(depth)


@pytest.mark.parametrize(
    ("array", "encoding", "message"),
    [
        (np.zeros((2, 2), np.uint8), "rgb8", "needs a non-empty"),
        (np.zeros((0, 2, 3), np.uint8), "rgb8", "needs a non-empty"),
        (np.zeros((2, 2), np.float32), "16UC1", "integer pixels"),
        (np.full((2, 2), 70000, np.int32), "16UC1", "must lie in"),
        (np.zeros((2, 2)), "nv12", "unsupported image encoding"),
    ],
)
def test_numpy_to_image_rejects_bad_arrays(array, encoding, message):
    with pytest.raises(ValueError, match=message):
        conv.numpy_to_image(array, encoding)


# ---------------------------------------------------------------- stamps, camera info, poses


def test_stamp_conversions():
    stamp = conv.seconds_to_stamp(1.25)
    assert (stamp.sec, stamp.nanosec) == (1, 250_000_000)
    assert conv.stamp_to_seconds(Time(sec=3, nanosec=500)) == pytest.approx(3.0000005)
    assert conv.seconds_to_stamp(-0.5).sec == -1 and conv.seconds_to_stamp(-0.5).nanosec == 500_000_000
    with pytest.raises(ValueError):
        conv.seconds_to_stamp(float("nan"))


def test_camera_info_round_trip():
    intrinsics = Intrinsics(fx=500.0, fy=510.0, cx=319.5, cy=240.5, width=640, height=480)
    msg = conv.intrinsics_to_camera_info(intrinsics, stamp=2.0, frame_id="cam_optical")
    assert isinstance(msg, CameraInfo) and msg.header.frame_id == "cam_optical"
    assert list(msg.k) == [500.0, 0.0, 319.5, 0.0, 510.0, 240.5, 0.0, 0.0, 1.0]
    assert conv.camera_info_to_intrinsics(msg) == intrinsics


def test_camera_info_roi_and_binning():
    msg = conv.intrinsics_to_camera_info(Intrinsics(fx=400.0, fy=400.0, cx=320.0, cy=240.0, width=640, height=480))
    msg.roi.x_offset, msg.roi.y_offset, msg.roi.width, msg.roi.height = 100, 40, 200, 100
    msg.binning_x = msg.binning_y = 2
    got = conv.camera_info_to_intrinsics(msg)
    assert (got.width, got.height) == (100, 50)
    assert got.fx == pytest.approx(200.0) and got.cx == pytest.approx((320.0 - 100) / 2)


def test_camera_info_rejects_uncalibrated_and_warns_on_distortion():
    with pytest.raises(ValueError, match="not a calibrated"):
        conv.camera_info_to_intrinsics(CameraInfo(width=640, height=480))
    msg = conv.intrinsics_to_camera_info(Intrinsics(fx=400.0, fy=400.0, cx=320.0, cy=240.0, width=640, height=480))
    msg.width = 0
    with pytest.raises(ValueError, match="no image size"):
        conv.camera_info_to_intrinsics(msg)
    msg.width, msg.d = 640, [0.1, 0.0, 0.0, 0.0, 0.0]
    with pytest.warns(UserWarning, match="distortion"):
        assert conv.camera_info_to_intrinsics(msg).fx == 400.0


def test_pose_round_trips():
    T = camera_from_angles(30.0, 20.0, 1.5, target=(0.1, 0.2, 0.3), roll_deg=10.0)
    np.testing.assert_allclose(conv.pose_to_matrix(conv.matrix_to_pose(T)), T, atol=1e-12)
    stamped = conv.matrix_to_pose_stamped(T, stamp=4.0, frame_id="world")
    assert stamped.header.frame_id == "world"
    np.testing.assert_allclose(conv.pose_to_matrix(stamped), T, atol=1e-12)
    tf = conv.matrix_to_transform_stamped(T, frame_id="world", child_frame_id="object_3")
    assert tf.child_frame_id == "object_3"
    np.testing.assert_allclose(conv.transform_to_matrix(tf), T, atol=1e-12)
    many = np.stack([T, np.eye(4)])
    np.testing.assert_allclose(conv.pose_array_to_matrices(conv.matrices_to_pose_array(many)), many, atol=1e-12)


def test_pose_of_a_known_rotation():
    # 90 degrees about z: quaternion (0, 0, sin 45, cos 45)
    T = np.eye(4)
    T[:3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]
    q = conv.matrix_to_pose(T).orientation
    np.testing.assert_allclose([q.x, q.y, q.z, q.w], [0, 0, np.sqrt(0.5), np.sqrt(0.5)], atol=1e-12)


def test_bad_poses_raise_value_error():
    with pytest.raises(ValueError, match="zero length"):
        conv.pose_to_matrix(Pose(orientation=Quaternion(x=0.0, y=0.0, z=0.0, w=0.0)))
    bad = np.eye(4)
    bad[0, 0] = 2.0
    with pytest.raises(ValueError, match="orthonormal"):
        conv.matrix_to_pose(bad)
    with pytest.raises(ValueError, match="4x4"):
        conv.matrix_to_pose(np.eye(3))


# ---------------------------------------------------------------- point clouds


def test_error_cloud_round_trip():
    points = RNG.normal(size=(50, 3)).astype(np.float32)
    occupancy, error = RNG.random(50), RNG.random(50)
    msg = conv.error_cloud(points, occupancy, error, stamp=1.0, frame_id="world")
    assert [f.name for f in msg.fields] == ["x", "y", "z", "occupancy", "error"]
    assert all(f.datatype == PointField.FLOAT32 for f in msg.fields)
    assert msg.point_step == 20 and msg.row_step == 1000 and (msg.height, msg.width) == (1, 50)
    cloud = conv.pointcloud2_to_structured(msg)
    np.testing.assert_array_equal(np.stack([cloud["x"], cloud["y"], cloud["z"]], axis=1), points)
    np.testing.assert_allclose(cloud["error"], error, rtol=1e-6)
    with pytest.raises(ValueError, match="error cloud needs"):
        conv.error_cloud(points, occupancy[:3], error)


def test_pointcloud_reader_handles_padding_big_endian_and_organised_clouds():
    # hand-built: 2x2 organised cloud, fields x (float32 @0) and id (uint16 @6), point_step 8, row padding 4
    fields = [
        PointField(name="x", offset=0, datatype=PointField.FLOAT32, count=1),
        PointField(name="id", offset=6, datatype=PointField.UINT16, count=1),
    ]
    rows = b""
    for r in range(2):
        for c in range(2):
            rows += struct.pack(">f", r + 0.5 * c) + b"\xff\xff" + struct.pack(">H", 10 * r + c)
        rows += b"\x00" * 4
    msg = PointCloud2(height=2, width=2, fields=fields, is_bigendian=True, point_step=8, row_step=20, data=rows)
    cloud = conv.pointcloud2_to_structured(msg)
    np.testing.assert_array_equal(cloud["x"], [0.0, 0.5, 1.0, 1.5])
    np.testing.assert_array_equal(cloud["id"], [0, 1, 10, 11])
    msg.data = rows[:-5]
    with pytest.raises(ValueError, match="expected row_step"):
        conv.pointcloud2_to_structured(msg)


def test_structured_cloud_of_mixed_types_round_trips():
    cloud = np.zeros(4, dtype=[("x", "<f8"), ("label", "u1"), ("count", ">i4")])
    cloud["x"], cloud["label"], cloud["count"] = [1, 2, 3, 4], [5, 6, 7, 8], [-1, 0, 1, 2**30]
    back = conv.pointcloud2_to_structured(conv.structured_to_pointcloud2(cloud))
    for name in ("x", "label", "count"):
        np.testing.assert_array_equal(back[name], cloud[name])


# ---------------------------------------------------------------- markers


def test_mesh_marker_lists_triangle_corners():
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float)
    triangles = np.array([[0, 1, 2], [0, 1, 3]])
    pose = np.eye(4)
    pose[:3, 3] = [1.0, 2.0, 3.0]
    marker = conv.mesh_marker(vertices, triangles, marker_id=4, frame_id="world", color=(1, 0, 0), pose=pose)
    assert marker.type == Marker.TRIANGLE_LIST and marker.action == Marker.ADD and marker.id == 4
    assert (marker.scale.x, marker.scale.y, marker.scale.z) == (1.0, 1.0, 1.0)
    assert (marker.color.r, marker.color.a) == (1.0, 1.0)
    np.testing.assert_array_equal(conv.marker_triangles(marker), vertices[triangles])
    np.testing.assert_allclose(conv.pose_to_matrix(marker.pose), pose)
    with pytest.raises(ValueError, match="indices"):
        conv.mesh_marker(vertices, np.array([[0, 1, 4]]), marker_id=0)


def test_text_arrow_and_delete_markers():
    text = conv.text_marker("mug #3", (0.0, 0.0, 0.5), marker_id=3, frame_id="world", height=0.04)
    assert text.type == Marker.TEXT_VIEW_FACING and text.text == "mug #3" and text.scale.z == 0.04
    assert text.pose.position.z == 0.5
    arrow = conv.arrow_marker((0, 0, 1), (0, 0, 0), marker_id=1)
    assert arrow.type == Marker.ARROW and [p.z for p in arrow.points] == [1.0, 0.0]
    deletes = conv.delete_markers([3, 5], ns="objects")
    assert [(m.id, m.action, m.ns) for m in deletes] == [(3, Marker.DELETE, "objects"), (5, Marker.DELETE, "objects")]
    assert conv.delete_all_markers().action == Marker.DELETEALL


def test_colors_per_id_are_stable_and_distinct():
    colors = [conv.color_for_id(i) for i in range(8)]
    rgb = {(round(c.r, 3), round(c.g, 3), round(c.b, 3)) for c in colors}
    assert len(rgb) == 8
    assert conv.color_for_id(3) == conv.color_for_id(3)
    assert all(0.0 <= v <= 1.0 for c in colors for v in (c.r, c.g, c.b))
