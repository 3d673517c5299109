"""Recording each /select_grasp request with the scene it ran on, for offline replay of failures.

Writes happen on a background thread so a request is never delayed by the disk (a two-camera
scene is ~4.5 MB); when the disk cannot keep up, records are dropped and counted, never queued
without bound.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path

from builtin_interfaces.msg import Time

from a2_grasping.msg import SceneSnapshot
from a2_grasping.ros import conversions
from a2_grasping.ros.bags.bags import BagWriter
from a2_grasping.srv import SelectGrasp

QUEUE_DEPTH = 8
_STOP = None


class RequestRecorder:
    """Appends (scene, request, response) to an MCAP bag: the scene on `scene_topic` (once per
    scene stamp) and the call as two service events on `<service>/_service_event`."""

    def __init__(self, path: Path, scene_topic: str, service_name: str) -> None:
        self._writer = BagWriter(path)
        self._scene_topic = scene_topic
        self._event_topic = f"{service_name}/_service_event"
        self._queue: queue.Queue[
            tuple[SceneSnapshot | None, SelectGrasp.Event, SelectGrasp.Event] | None
        ] = queue.Queue(maxsize=QUEUE_DEPTH)
        self._last_scene_stamp: int | None = None
        self._sequence = 0
        self.dropped = 0
        self.failed = 0
        self.last_error = ""
        self.written = 0
        self._thread = threading.Thread(target=self._run, name="request_recorder", daemon=True)
        self._thread.start()

    def record(
        self,
        scene: SceneSnapshot | None,
        request: SelectGrasp.Request,
        response: SelectGrasp.Response,
        received: Time,
        sent: Time,
    ) -> None:
        self._sequence += 1
        stamp = None if scene is None else conversions.time_to_ns(scene.header.stamp)
        new_scene = scene if stamp is not None and stamp != self._last_scene_stamp else None
        events = conversions.select_grasp_events(request, response, received, sent, self._sequence)
        try:
            self._queue.put_nowait((new_scene, events[0], events[1]))
        except queue.Full:
            self.dropped += 1
            return
        if new_scene is not None:
            self._last_scene_stamp = stamp

    def close(self, timeout_s: float = 10.0) -> None:
        """Flush what is queued (bounded wait) and close the bag."""
        self._queue.put(_STOP, timeout=timeout_s)
        self._thread.join(timeout=timeout_s)
        self._writer.close()

    def _run(self) -> None:
        while (item := self._queue.get()) is not _STOP:
            scene, request_event, response_event = item
            try:
                if scene is not None:
                    self._writer.write(
                        self._scene_topic, scene, conversions.time_to_ns(scene.header.stamp)
                    )
                for event in (request_event, response_event):
                    self._writer.write(
                        self._event_topic, event, conversions.time_to_ns(event.info.stamp)
                    )
            except Exception as error:  # keep recording later requests; report, don't die
                self.failed += 1
                self.last_error = repr(error)
            else:
                self.written += 1


def next_recording_path(path: Path, own: set[Path]) -> Path | None:
    """Where a (re)configured node records: `path` if it is free; if it holds a bag this process
    wrote under an earlier configuration (`own`, resolved paths), the first free `<path>_<n>`
    (n = 2, 3, ...), so a reconfigure never overwrites nor fails on its own recording; None if
    `path` holds anything else (never overwritten)."""
    if not path.exists():
        return path
    if path.resolve() not in own:
        return None
    number = 2
    while (candidate := path.with_name(f"{path.name}_{number}")).exists():
        number += 1
    return candidate
