"""MarkerScene: the markers a MarkerArray subscriber shows, after applying each array in order.

objects/markers sends only the objects whose mesh changed (plus, every few arrays, all of
them), so one array is not the scene: like rviz, a consumer applies ADD/MODIFY, DELETE and
DELETEALL by (namespace, id). Tools and tests that want "the meshes now" keep one of these.
"""

from __future__ import annotations

from visualization_msgs.msg import Marker, MarkerArray


class MarkerScene:
    def __init__(self) -> None:
        self.markers: dict[tuple[str, int], Marker] = {}

    def apply(self, array: MarkerArray) -> None:
        for marker in array.markers:
            key = (marker.ns, int(marker.id))
            if marker.action == Marker.ADD:  # ADD and MODIFY share the value 0
                self.markers[key] = marker
            elif marker.action == Marker.DELETE:
                self.markers.pop(key, None)
            elif marker.action == Marker.DELETEALL:
                # an empty namespace clears everything; a named one clears that namespace (rviz2 from Humble on)
                self.markers = {k: m for k, m in self.markers.items() if marker.ns and k[0] != marker.ns}

    def in_namespace(self, ns: str) -> list[Marker]:
        """The namespace's markers, by id."""
        return [m for (n, _), m in sorted(self.markers.items()) if n == ns]


class MarkerKeyframes:
    """Which objects the next marker array carries: those whose estimate changed, and all of them every
    ``every``-th array. Kept ``every`` deep for late subscribers (transient local), the last arrays then
    always start from one that carries the whole scene.
    """

    def __init__(self, every: int) -> None:
        if every < 1:
            raise ValueError(f"keyframe interval must be >= 1, got {every}")
        self.every = every
        self.arrays = 0  # arrays published so far
        self._sent: dict[int, object] = {}  # id -> the estimate its published marker shows

    def select(self, estimates: dict[int, object]) -> tuple[list[int], bool]:
        """(ids whose markers the next array must carry, whether it is a keyframe)."""
        keyframe = self.arrays % self.every == 0
        ids = [i for i in sorted(estimates) if keyframe or self._sent.get(i) is not estimates[i]]
        for i in ids:
            self._sent[i] = estimates[i]
        return ids, keyframe

    def retire(self, ids) -> None:
        for i in ids:
            self._sent.pop(i, None)

    def published(self) -> None:
        self.arrays += 1
