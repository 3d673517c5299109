"""Print requirements/constraints.txt for the running environment.

Run after changing a requirements file and verifying the suite:
    .venv/bin/python -m a2_grasping.tools.freeze_constraints > requirements/constraints.txt
`pip freeze` is not used because the ROS wheels also install egg-info "distributions" (rclpy,
std_msgs, ...) that do not exist on PyPI; only real .dist-info distributions are pinned.
"""

from __future__ import annotations

import importlib.metadata

HEADER = """\
# Exact versions of every distribution in .venv, written from a verified environment with
#   .venv/bin/python -m a2_grasping.tools.freeze_constraints > requirements/constraints.txt
# Only real (.dist-info) distributions: the ROS wheels also install egg-info "packages" (rclpy,
# std_msgs, ...) that do not exist on PyPI and must never be pinned.
"""
NOT_PINNED = {"a2-grasping", "pip"}  # this project itself; pip is pinned by ./run


def constraint_lines() -> list[str]:
    lines = set()
    for dist in importlib.metadata.distributions():
        location = str(getattr(dist, "_path", ""))
        name = dist.metadata["Name"]
        if location.endswith(".dist-info") and name.lower() not in NOT_PINNED:
            lines.add(f"{name}=={dist.version}")
    return sorted(lines, key=str.lower)


def main() -> int:
    print(HEADER + "\n".join(constraint_lines()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
