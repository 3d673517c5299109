"""Approximate-time matching of message streams (message_filters is not installable here).

Used twice by perception: colour, depth and CameraInfo of one camera, and then the cameras of a
scene. Matching is by stamp only, so it behaves the same on live data, bag replay and sim time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Match(Generic[T]):
    """One item per stream; `stamp_s` is the oldest of their stamps (the set is no fresher)."""

    items: dict[str, T]
    stamps_s: dict[str, float]

    @property
    def stamp_s(self) -> float:
        return min(self.stamps_s.values())

    @property
    def spread_s(self) -> float:
        return max(self.stamps_s.values()) - min(self.stamps_s.values())


class ApproximateSync(Generic[T]):
    """Emits a match when every stream holds an item within `slop_s` of the newest arrival.

    Each stream keeps its last `queue_size` items. On every arrival the nearest-stamped item of
    each other stream is taken; when the set spans at most `slop_s` it is emitted and everything
    up to it is dropped, so an item is used at most once and stamps never go backwards.
    """

    def __init__(self, streams: Sequence[str], slop_s: float, queue_size: int) -> None:
        if not streams or len(set(streams)) != len(streams):
            raise ValueError(f"streams must be unique and non-empty, got {list(streams)}")
        if slop_s < 0 or queue_size < 1:
            raise ValueError(f"need slop_s >= 0 and queue_size >= 1, got {slop_s}, {queue_size}")
        self._slop_s = slop_s
        self._queues: dict[str, deque[tuple[float, T]]] = {
            name: deque(maxlen=queue_size) for name in streams
        }
        self._last_emitted_s: dict[str, float] = {}
        self.dropped_out_of_order = 0

    def add(self, stream: str, stamp_s: float, item: T) -> Match[T] | None:
        """Queue `item`; return the match it completes, if any."""
        queue = self._queues[stream]  # KeyError on an unknown stream: a programming error
        if stamp_s <= self._last_emitted_s.get(stream, float("-inf")):
            self.dropped_out_of_order += 1
            return None
        queue.append((stamp_s, item))
        chosen: dict[str, tuple[float, T]] = {stream: (stamp_s, item)}
        for name, other in self._queues.items():
            if name == stream:
                continue
            if not other:
                return None
            chosen[name] = min(other, key=lambda entry: abs(entry[0] - stamp_s))
        stamps = [entry[0] for entry in chosen.values()]
        if max(stamps) - min(stamps) > self._slop_s:
            return None
        for name, (matched_s, _) in chosen.items():
            self._last_emitted_s[name] = matched_s
            queue_of = self._queues[name]
            newer = [entry for entry in queue_of if entry[0] > matched_s]
            queue_of.clear()
            queue_of.extend(newer)
        return Match(
            items={name: entry[1] for name, entry in chosen.items()},
            stamps_s={name: entry[0] for name, entry in chosen.items()},
        )
