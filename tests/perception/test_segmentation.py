import numpy as np
import pytest

from tests.perception.scenes import Box, camera_on_circle, render
from vtr_perception.geometry.cameras import Intrinsics, look_at
from vtr_perception.perception.config import PerceptionConfig
from vtr_perception.perception.segmentation import dbscan, reject_non_objects, segment_depth, segment_mask

K = Intrinsics.from_fov(320, 240, 60)
BOXES = [
    Box((0.0, 0.0), (0.10, 0.06, 0.12), 20),
    Box((0.15, 0.10), (0.08, 0.08, 0.08), 0, (40, 160, 60)),
    Box((-0.12, 0.12), (0.15, 0.05, 0.05), -30, (40, 60, 200)),
]
CFG = PerceptionConfig(pixel_stride=2)


def _match(detections, boxes):
    """For each true box, the detection whose centre is closest (xy)."""
    return [min(detections, key=lambda d: np.linalg.norm(d.center[:2] - b.center[:2])) for b in boxes]


def test_depth_segmentation_finds_every_object_on_the_table():
    T = camera_on_circle(30)
    _, depth, _ = render(BOXES, K, T)
    seg = segment_depth(depth, K, T, CFG)
    assert seg.reason is None
    assert len(seg.detections) == 3
    assert abs(seg.plane_world[2]) > 0.99 and abs(seg.plane_world[3]) < 0.005  # the table z = 0
    for det, box in zip(_match(seg.detections, BOXES), BOXES, strict=True):
        assert not det.cut_by_border
        assert abs(det.center[2] - box.center[2]) < 0.005  # extended down to the table
        assert abs(det.extent[2] - box.size[2]) < 0.01
        assert np.linalg.norm(det.center[:2] - box.center[:2]) < 0.03  # only the visible side is seen


def test_masks_are_full_resolution_and_cover_the_object():
    T = camera_on_circle(30)
    _, depth, ids = render(BOXES, K, T)
    seg = segment_depth(depth, K, T, CFG)
    for det, i in zip(_match(seg.detections, BOXES), range(3), strict=True):
        truth = ids == 2 + i
        iou = (det.mask & truth).sum() / (det.mask | truth).sum()
        assert iou > 0.85


def test_bad_depth_values_are_ignored():
    T = camera_on_circle(30)
    _, depth, _ = render(BOXES, K, T)
    rng = np.random.default_rng(0)
    bad = depth.copy()
    idx = rng.random(bad.shape)
    bad[idx < 0.05] = np.nan
    bad[(idx >= 0.05) & (idx < 0.1)] = np.inf
    bad[(idx >= 0.1) & (idx < 0.15)] = 0.0
    bad[(idx >= 0.15) & (idx < 0.17)] = -1.0
    seg = segment_depth(bad, K, T, CFG)
    assert len(seg.detections) == 3
    for det in seg.detections:
        assert np.isfinite(det.points_world).all()


@pytest.mark.parametrize("value", [np.nan, np.inf, 0.0])
def test_depth_without_valid_pixels_gives_a_reason_not_a_crash(value):
    depth = np.full((K.height, K.width), value, dtype=np.float32)
    seg = segment_depth(depth, K, camera_on_circle(0), CFG)
    assert seg.detections == [] and seg.reason == "no_valid_depth"


def test_no_support_plane():
    T = camera_on_circle(30)
    _, depth, _ = render(BOXES[:1], K, T, table=False)
    seg = segment_depth(depth, K, T, PerceptionConfig(pixel_stride=2, plane_min_fraction=0.9))
    assert seg.reason == "no_support_plane"


def test_object_cut_by_the_image_border_is_flagged():
    T = look_at(np.array([0.5, 0.0, 0.35]), np.array([0.0, 0.35, 0.0]))  # the box sits at the left edge
    _, depth, ids = render(BOXES[:1], K, T)
    assert (ids[:, 0] == 2).any()
    seg = segment_depth(depth, K, T, CFG)
    assert len(seg.detections) == 1 and seg.detections[0].cut_by_border


def test_touching_objects_merge_into_one_detection_without_error():
    boxes = [Box((0.0, 0.0), (0.08, 0.08, 0.1)), Box((0.08, 0.0), (0.08, 0.08, 0.06))]
    T = camera_on_circle(90)
    _, depth, _ = render(boxes, K, T)
    seg = segment_depth(depth, K, T, CFG)
    assert len(seg.detections) == 1
    assert seg.detections[0].extent[0] > 0.14


def test_instance_mask_segmentation():
    T = camera_on_circle(30)
    _, depth, ids = render(BOXES, K, T)
    cfg = PerceptionConfig(ignore_mask_ids=(0, 1))
    seg = segment_mask(ids, depth, K, T, cfg)
    assert sorted(d.instance_id for d in seg.detections) == [2, 3, 4]
    for det in seg.detections:
        box = BOXES[det.instance_id - 2]
        assert abs(det.center[2] + det.extent[2] / 2 - box.size[2]) < 0.005  # the top is seen
    empty = segment_mask(np.zeros_like(ids), depth, K, T, cfg)
    assert empty.detections == []
    rgb_only = segment_mask(ids, None, K, T, cfg)
    assert len(rgb_only.detections) == 3 and all(len(d.points_world) == 0 for d in rgb_only.detections)


def test_image_size_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="depth is 10x10"):
        segment_depth(np.ones((10, 10), np.float32), K, camera_on_circle(0), CFG)
    with pytest.raises(ValueError, match="integer instance-id"):
        segment_mask(np.ones((K.height, K.width), np.float32), None, K, camera_on_circle(0), CFG)


def test_pieces_of_one_object_split_by_self_occlusion_are_merged():
    from vtr_perception.perception.segmentation import cluster_points

    rng = np.random.default_rng(0)
    pole = np.column_stack([rng.normal(0, 0.003, 400), rng.normal(0, 0.003, 400), rng.uniform(0, 0.2, 400)])
    plate = rng.uniform(-0.1, 0.1, (3000, 2))
    plate = plate[np.linalg.norm(plate, axis=1) > 0.04]  # a hole wider than eps around the pole
    plate = np.column_stack([plate, np.full(len(plate), 0.1)])
    other = rng.uniform(-0.03, 0.03, (500, 3)) + [0.4, 0.0, 0.05]
    labels = cluster_points(np.vstack([pole, plate, other]), CFG)
    assert len(set(labels[: len(pole) + len(plate)]) - {-1}) == 1  # pole + plate: one object
    assert set(labels[-len(other) :]) - {-1} and not set(labels[-len(other) :]) & set(labels[: len(pole)])


def test_masks_do_not_spill_across_occlusion_edges():
    boxes = [Box((0.0, 0.0), (0.08, 0.08, 0.14)), Box((0.12, 0.0), (0.06, 0.06, 0.06), 0, (40, 160, 60))]
    T = camera_on_circle(0, radius=0.5, height=0.2)  # the small box stands in front of the tall one
    _, depth, ids = render(boxes, K, T)
    seg = segment_depth(depth, K, T, CFG)
    assert len(seg.detections) == 2
    for det in seg.detections:
        values, counts = np.unique(ids[det.mask], return_counts=True)
        assert counts.max() / counts.sum() > 0.995, dict(zip(values.tolist(), counts.tolist(), strict=True))


def test_thin_object_far_away_is_segmented_whole_with_the_shipped_stride():
    # A 2 cm pole with a cross-bar at 0.6 m (the planner's views are 0.4-0.8 m away): strided points
    # there have few neighbours, and a high DBSCAN core count (such as 10) drops it as noise.
    boxes = [Box((0.0, 0.0), (0.02, 0.02, 0.16), 30), Box((0.0, 0.0), (0.12, 0.02, 0.02), 30)]
    K_sim = Intrinsics.from_fov(320, 240, 60)
    T = camera_on_circle(40, radius=0.6, height=0.36, target=(0.0, 0.0, 0.08))
    _, depth, ids = render(boxes, K_sim, T)
    seg = segment_depth(depth, K_sim, T, PerceptionConfig())
    assert len(seg.detections) == 1
    truth = ids >= 2
    assert (seg.detections[0].mask & truth).sum() > 0.85 * truth.sum()
    assert seg.detections[0].extent[2] > 0.14


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dbscan_labels_equal_open3ds(seed):
    """Blobs, a thin bridge between two of them (border points between clusters), strays and duplicates."""
    import open3d as o3d

    rng = np.random.default_rng(seed)
    blobs = [rng.normal(c, 0.012, (150, 3)) for c in ([0, 0, 0], [0.08, 0, 0], [0, 0.3, 0.1])]
    bridge = np.linspace([0.0, 0.0, 0.0], [0.08, 0.0, 0.0], 9) + rng.normal(0, 0.002, (9, 3))
    strays = rng.uniform(-0.5, 0.5, (60, 3))
    points = np.concatenate([*blobs, bridge, strays, blobs[0][:5]])
    points = points[rng.permutation(len(points))]
    for eps, min_points in [(0.02, 4), (0.015, 10), (0.03, 1)]:
        cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))
        expected = np.asarray(cloud.cluster_dbscan(eps, min_points))
        got = dbscan(points, eps, min_points)
        assert np.array_equal(got, expected), (eps, min_points)
    assert dbscan(np.empty((0, 3)), 0.02, 4).shape == (0,)
    assert (dbscan(strays[:3], 0.02, 4) == -1).all()


@pytest.mark.parametrize("azimuth", [0, 20, 45, 70])
def test_a_box_seen_from_far_is_one_detection(azimuth):
    # A 16x12x12 cm box from 1.4 m at 320x240 (stride 3, fx 277): its strided points lie up to 2.2 cm apart on
    # a face seen obliquely, and a fixed 2 cm DBSCAN radius split it into pieces under min_object_points.
    box = Box((0.0, 0.0), (0.16, 0.12, 0.12))
    T = camera_on_circle(azimuth, radius=1.3, height=0.55, target=(0.0, 0.0, 0.06))
    assert np.linalg.norm(T[:3, 3] - box.center) > 1.35
    _, depth, _ = render([box], K, T)
    seg = segment_depth(depth, K, T, PerceptionConfig())
    assert len(seg.detections) == 1
    extent, a = seg.detections[0].extent, np.radians(azimuth)
    assert abs(extent[2] - 0.12) < 0.01
    if abs(np.sin(a)) > 0.3:  # the +y face (16 cm along x) is in view: it is part of the detection
        assert extent[0] > 0.7 * 0.16
    if abs(np.cos(a)) > 0.3:  # the +x face (12 cm along y)
        assert extent[1] > 0.7 * 0.12


def test_dbscan_per_point_radius_joins_sparse_far_points_only():
    """Near points 1 cm apart, far points 3 cm apart: one radius per point joins the far row, not near strays."""
    near = np.column_stack([np.arange(10) * 0.01, np.zeros(10), np.zeros(10)])
    far = np.column_stack([np.arange(10) * 0.03, np.ones(10), np.zeros(10)])
    stray = np.array([[0.115, 0.0, 0.0]])  # 2.5 cm beyond the near row's end: outside its 2 cm radius
    points = np.vstack([near, far, stray])
    radius = np.concatenate([np.full(10, 0.02), np.full(10, 0.035), [0.02]])
    labels = dbscan(points, radius, 3)
    assert len(set(labels[:10])) == 1 and len(set(labels[10:20])) == 1 and labels[0] != labels[10] >= 0
    assert labels[20] == -1
    assert (dbscan(points, 0.02, 3)[10:20] == -1).all()  # one fixed radius: the far row is noise
    assert np.array_equal(dbscan(points, np.full(len(points), 0.02), 3), dbscan(points, 0.02, 3))


def test_flat_things_are_objects_only_above_the_minimum_height():
    """A 1.5 cm mat beside a 10 cm box: kept by default (0: every height), dropped at min_object_height_m 2 cm."""
    boxes = [Box((0.0, 0.0), (0.08, 0.08, 0.10)), Box((0.18, 0.0), (0.16, 0.12, 0.015), 0, (40, 160, 60))]
    T = camera_on_circle(0, radius=0.6, height=0.45)
    _, depth, _ = render(boxes, K, T)
    heights = sorted(d.extent[2] for d in segment_depth(depth, K, T, CFG).detections)
    assert len(heights) == 2 and heights[0] < 0.02 < heights[1]
    tall = segment_depth(depth, K, T, PerceptionConfig(pixel_stride=2, min_object_height_m=0.02)).detections
    assert len(tall) == 1 and abs(tall[0].extent[2] - 0.10) < 0.01


def test_a_tracked_object_partly_beyond_this_views_table_extent_is_kept_and_a_rail_beyond_it_is_not():
    config = PerceptionConfig()
    rng = np.random.default_rng(0)
    points = rng.uniform([0.20, 0.0, 0.0], [0.30, 0.1, 0.1], size=(200, 3))  # a 10 cm object
    labels, height, band = np.zeros(200, dtype=np.int64), points[:, 2], np.full(200, 0.004)
    half_beyond = np.where(points[:, 0] > 0.25, 0.1, -0.1)  # this view saw the table under half of it only
    footprint = np.array([[[0.19, -0.01, 0.0], [0.31, 0.11, 0.1]]])

    def kept(outside, footprints=None):
        return reject_non_objects(points, labels, height, band, outside, config, known_footprints=footprints)

    assert (kept(half_beyond) == -1).all()
    assert (kept(half_beyond, footprint) == 0).all()
    assert (kept(np.full(200, 0.1), footprint) == -1).all()  # wholly off the table (a chair's rail) over a track
    assert (kept(half_beyond, footprint + [0.5, 0.5, 0.0]) == -1).all()  # no track there
    assert (kept(half_beyond, footprint + [0.012, 0.012, 0.0]) == 0).all()  # within, but for 2 mm of noise
    assert (kept(half_beyond, footprint + [0.04, 0.0, 0.0]) == -1).all()  # 3 cm over its side: not within


def test_a_tracked_object_whose_foot_this_view_misses_is_kept_and_a_shelf_over_it_is_not():
    """Seen from high over a neighbour, an object's lowest 7 cm are hidden: its cluster floats over the table."""
    config = PerceptionConfig()
    rng = np.random.default_rng(1)
    upper = rng.uniform([0.20, 0.0, 0.07], [0.30, 0.1, 0.12], size=(200, 3))
    shelf = rng.uniform([0.20, 0.0, 0.30], [0.30, 0.1, 0.32], size=(200, 3))
    footprint = np.array([[[0.19, -0.01, 0.0], [0.31, 0.11, 0.12]]])

    def kept(points, footprints=None):
        labels, band = np.zeros(len(points), dtype=np.int64), np.full(len(points), 0.004)
        return reject_non_objects(points, labels, points[:, 2], band, np.full(len(points), -0.1), config,
                                  known_footprints=footprints)  # fmt: skip

    assert (kept(upper) == -1).all()  # floating, and nothing tracked there
    assert (kept(upper, footprint) == 0).all()
    assert (kept(shelf, footprint) == -1).all()  # above the tracked object's top


def test_an_object_whose_foot_hides_under_its_overhang_stands_and_a_shelf_does_not():
    """Lowest seen point 5 cm up, highest 16 cm: it reaches down to the table's hidden part; a shelf does not."""
    rng = np.random.default_rng(2)
    vase = rng.uniform([0.20, 0.0, 0.05], [0.30, 0.1, 0.16], size=(200, 3))
    shelf = rng.uniform([0.20, 0.0, 0.25], [0.30, 0.1, 0.40], size=(200, 3))
    labels, band = np.zeros(200, dtype=np.int64), np.full(200, 0.004)

    def kept(points, fraction):
        config = PerceptionConfig(support_contact_fraction=fraction)
        return reject_non_objects(points, labels, points[:, 2], band, np.full(200, -0.1), config)

    assert (kept(vase, 0.5) == 0).all()
    assert (kept(vase, 0.0) == -1).all()  # support_contact_m alone: floating
    assert (kept(shelf, 0.5) == -1).all()
