"""Building diagnostic_msgs entries the same way in every node (rqt_runtime_monitor reads them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

OK, WARN, ERROR = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR
# Every node publishes its status once a second, as diagnostic_updater does by default.
PERIOD_S = 1.0


def status(
    name: str, hardware_id: str, level: bytes, message: str, values: Mapping[str, object]
) -> DiagnosticStatus:
    entry = DiagnosticStatus(name=name, hardware_id=hardware_id, level=level, message=message)
    entry.values = [KeyValue(key=key, value=_text(value)) for key, value in values.items()]
    return entry


def array(stamp: Time, statuses: Sequence[DiagnosticStatus]) -> DiagnosticArray:
    message = DiagnosticArray(status=list(statuses))
    message.header.stamp = stamp
    return message


def _text(value: object) -> str:
    """Four significant digits, except from 1000 up, in milliseconds fixed point: stamps such
    as scene_stamp_s (wall clock: 1.765e+09; simulated 1234.6 s: 1235) would otherwise make a
    client that waits for a fresh scene wait forever or go on too early."""
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000.0 else f"{value:.3f}"
    return str(value)
