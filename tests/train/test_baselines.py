"""Retrieval baselines on toy shapes whose answers are known."""

from __future__ import annotations

import numpy as np

from vtr_perception.train.baselines import RetrievalBaselines, best_iou_index, image_embedding, kmeans


def toy_set(n_shapes: int = 6, r: int = 8):
    """Boxes of different sizes; each shape's 'views' are images whose brightness pattern encodes the shape."""
    rng = np.random.default_rng(0)
    shapes = np.zeros((n_shapes, r, r, r), dtype=bool)
    images = np.zeros((n_shapes, 2, 3, 16, 16), dtype=np.float32)
    for i in range(n_shapes):
        shapes[i, : i + 2, : i + 2, : i + 2] = True
        pattern = rng.random((3, 16, 16)).astype(np.float32)
        images[i] = pattern + 0.01 * rng.random((2, 3, 16, 16))
    return shapes, images


def test_kmeans_separates_obvious_clusters() -> None:
    data = np.concatenate([np.zeros((5, 2)), np.ones((5, 2)) * 10]) + np.random.default_rng(1).normal(0, 0.1, (10, 2))
    centres, labels = kmeans(data, 2, seed=0)
    assert len(set(labels[:5])) == 1 and len(set(labels[5:])) == 1 and labels[0] != labels[5]
    np.testing.assert_allclose(sorted(centres[:, 0]), [0.0, 10.0], atol=0.2)


def test_retrieval_finds_the_object_whose_views_match() -> None:
    shapes, images = toy_set()
    embeddings = np.stack([image_embedding(v) for v in images])
    baselines = RetrievalBaselines.fit(shapes, embeddings, k=3, seed=0)
    for i in range(len(shapes)):
        query = images[i, :1] + 0.005
        assert baselines.nearest(query) == i
        np.testing.assert_array_equal(baselines.retrieval(query), shapes[i].astype(np.float32))
        centre = baselines.clustering(query)
        np.testing.assert_allclose(centre, baselines.centres[baselines.labels[i]])
    assert baselines.mean_shape().shape == shapes.shape[1:]


def test_oracle_picks_the_best_iou_shape() -> None:
    shapes, _ = toy_set()
    gt = np.zeros_like(shapes[0])
    gt[:4, :4, :4] = True  # equals shape 2
    assert best_iou_index(gt, shapes) == 2
    baselines = RetrievalBaselines.fit(shapes, np.zeros((len(shapes), 1, 4)), k=2)
    np.testing.assert_array_equal(baselines.oracle_nn(gt), gt.astype(np.float32))
