"""Retrieval baselines of Tatarchenko et al. 2019 ("What do single-view 3D reconstruction networks learn?").

All predict a training shape (or a mix of training shapes) for a test input, so a network
that only retrieves scores like them; a network that reconstructs beats them.

- mean shape:   the mean occupancy of all training shapes (the same grid for every input).
- clustering:   k-means of the training voxel grids; a test input gets the centre (mean
                occupancy) of the cluster of its nearest training object by image embedding.
- retrieval:    the voxel grid of the nearest training object by image embedding.
- oracle NN:    the training shape with the best IoU to the true shape (an upper bound for
                any retrieval method; it looks at the answer).

Image embedding: each view downsampled to 16x16 RGB, mean-centred per image and
L2-normalised (a "tiny image" embedding, independent of the network under test). The
distance of a V-view input to a training object is the mean over the input views of the
distance to that object's closest training view. The baselines ignore camera poses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

EMBED_SIDE = 16


def image_embedding(images: np.ndarray | torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) images in [0, 1] -> (N, 3 * 16 * 16) unit vectors."""
    x = torch.as_tensor(np.asarray(images, dtype=np.float32))
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"images must be (N, 3, H, W), got {tuple(x.shape)}")
    small = F.adaptive_avg_pool2d(x, EMBED_SIDE).flatten(1)
    small = small - small.mean(dim=1, keepdim=True)
    return F.normalize(small, dim=1).numpy()


def kmeans(data: np.ndarray, k: int, *, iterations: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Plain Lloyd k-means with k-means++ seeding: (centres (k, D), labels (N,))."""
    rng = np.random.default_rng(seed)
    data = np.asarray(data, dtype=np.float32)
    n = len(data)
    k = min(k, n)
    centres = [data[rng.integers(n)]]
    d2 = ((data - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        probs = d2 / d2.sum() if d2.sum() > 0 else np.full(n, 1.0 / n)
        centres.append(data[rng.choice(n, p=probs)])
        d2 = np.minimum(d2, ((data - centres[-1]) ** 2).sum(1))
    centres = np.stack(centres)
    labels = np.zeros(n, dtype=np.int64)
    for _ in range(iterations):
        dist = (data**2).sum(1)[:, None] - 2.0 * data @ centres.T + (centres**2).sum(1)[None]
        new_labels = dist.argmin(1)
        for c in range(k):
            members = data[new_labels == c]
            if len(members):
                centres[c] = members.mean(0)
        if np.array_equal(new_labels, labels):
            break
        labels = new_labels
    return centres, labels


def best_iou_index(gt: np.ndarray, shapes: np.ndarray) -> int:
    """Index of the shape in ``shapes`` (N, R, R, R) bool with the highest IoU to ``gt`` (R, R, R) bool."""
    flat = shapes.reshape(len(shapes), -1)
    g = gt.reshape(-1)
    inter = flat[:, g].sum(1)
    union = flat.sum(1) + g.sum() - inter
    iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    return int(np.argmax(iou))


@dataclass
class RetrievalBaselines:
    """Training shapes, their view embeddings and clusters; predicts (R, R, R) occupancy grids."""

    shapes: np.ndarray  # (N, R, R, R) bool
    embeddings: np.ndarray  # (N, views, D)
    centres: np.ndarray  # (k, R, R, R) mean occupancy of each cluster
    labels: np.ndarray  # (N,) cluster of each training shape

    @classmethod
    def fit(cls, shapes: np.ndarray, embeddings: np.ndarray, *, k: int = 32, seed: int = 0) -> RetrievalBaselines:
        """``shapes`` (N, R, R, R); ``embeddings`` (N, views, D): ``image_embedding`` of each object's views."""
        shapes = np.asarray(shapes) > 0.5
        if len(shapes) == 0 or len(shapes) != len(embeddings):
            raise ValueError(f"need matching non-empty shapes and embeddings, got {len(shapes)} and {len(embeddings)}")
        n = len(shapes)
        centres, labels = kmeans(shapes.reshape(n, -1).astype(np.float32), k, seed=seed)
        return cls(shapes, embeddings, centres.reshape(-1, *shapes.shape[1:]), labels)

    def mean_shape(self) -> np.ndarray:
        return self.shapes.mean(0).astype(np.float32)

    def nearest(self, images: np.ndarray) -> int:
        """Training object nearest to a (V, 3, H, W) input by image embedding."""
        query = image_embedding(images)  # (V, D)
        sims = np.einsum("vd,nwd->nvw", query, self.embeddings)  # cosine similarity to every training view
        distance = (1.0 - sims.max(axis=2)).mean(axis=1)
        return int(np.argmin(distance))

    def retrieval(self, images: np.ndarray) -> np.ndarray:
        return self.shapes[self.nearest(images)].astype(np.float32)

    def clustering(self, images: np.ndarray) -> np.ndarray:
        return self.centres[self.labels[self.nearest(images)]].astype(np.float32)

    def oracle_nn(self, gt: np.ndarray) -> np.ndarray:
        return self.shapes[best_iou_index(np.asarray(gt) > 0.5, self.shapes)].astype(np.float32)
