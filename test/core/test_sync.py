"""ApproximateSync: stamp matching of colour/depth/info and of cameras."""

from __future__ import annotations

import pytest

from a2_grasping.core.sync import ApproximateSync


def _sync(slop_s: float = 0.01, queue_size: int = 5) -> ApproximateSync[str]:
    return ApproximateSync(("color", "depth", "info"), slop_s, queue_size)


def test_matches_when_all_streams_arrive_with_equal_stamps():
    sync = _sync()
    assert sync.add("color", 1.0, "c1") is None
    assert sync.add("depth", 1.0, "d1") is None
    match = sync.add("info", 1.0, "i1")
    assert match is not None
    assert match.items == {"color": "c1", "depth": "d1", "info": "i1"}
    assert match.stamp_s == 1.0 and match.spread_s == 0.0


def test_picks_the_nearest_stamp_within_the_slop_and_reports_the_oldest():
    sync = _sync(slop_s=0.01)
    sync.add("color", 1.000, "c")
    sync.add("depth", 0.950, "d_old")
    sync.add("depth", 0.996, "d_near")
    match = sync.add("info", 1.004, "i")
    assert match is not None and match.items["depth"] == "d_near"
    assert match.stamp_s == pytest.approx(0.996)


def test_no_match_outside_the_slop():
    sync = _sync(slop_s=0.01)
    sync.add("color", 1.0, "c")
    sync.add("depth", 1.05, "d")
    assert sync.add("info", 1.0, "i") is None


def test_items_are_used_once_and_older_ones_are_dropped():
    sync = _sync()
    for stream in ("color", "depth", "info"):
        result = sync.add(stream, 1.0, f"{stream}1")
    assert result is not None
    # A second info at the same stamp cannot reuse the consumed colour/depth.
    assert sync.add("info", 1.0, "again") is None
    assert sync.dropped_out_of_order == 1
    sync.add("color", 2.0, "c2")
    sync.add("depth", 2.0, "d2")
    match = sync.add("info", 2.0, "i2")
    assert match is not None and match.items == {"color": "c2", "depth": "d2", "info": "i2"}


def test_queue_size_bounds_what_is_kept():
    sync = _sync(queue_size=2)
    for stamp_s in (1.0, 2.0, 3.0):
        sync.add("color", stamp_s, f"c{stamp_s}")
    sync.add("depth", 1.0, "d1")
    assert sync.add("info", 1.0, "i1") is None  # colour at 1.0 fell out of the queue
    sync.add("depth", 3.0, "d3")
    match = sync.add("info", 3.0, "i3")
    assert match is not None and match.items["color"] == "c3.0"


def test_rejects_bad_construction():
    with pytest.raises(ValueError, match="unique"):
        ApproximateSync(("a", "a"), 0.1, 1)
    with pytest.raises(ValueError, match="slop"):
        ApproximateSync(("a", "b"), -1.0, 1)
