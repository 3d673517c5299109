"""The one place where messages become Python/numpy values and back."""

from __future__ import annotations

from builtin_interfaces.msg import Time

from a2_grasping.core.errors import GraspSelectionError
from a2_grasping.srv import SelectGrasp

_NS_PER_S = 1_000_000_000


def time_to_seconds(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec / _NS_PER_S


def seconds_to_time(seconds: float) -> Time:
    total_ns = round(seconds * _NS_PER_S)
    return Time(sec=total_ns // _NS_PER_S, nanosec=total_ns % _NS_PER_S)


def is_zero_time(stamp: Time) -> bool:
    return stamp.sec == 0 and stamp.nanosec == 0


def error_response(
    error: GraspSelectionError, response: SelectGrasp.Response
) -> SelectGrasp.Response:
    """Fill a refusal: code and message set, no candidates, selected_index -1."""
    response.error_code = int(error.code)
    response.error_message = error.message
    response.candidates = []
    response.selected_index = -1
    return response
