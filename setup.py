"""pip packaging of the complete ROS package, for environments with ROS 2 from PyPI wheels.

`pip install --no-build-isolation .` (what `./run setup` does) runs the same CMake build a colcon
build runs on a real ROS install -- CMakeLists.txt, with A2_ROS_FROM_PYPI=ON -- installs it into a
staging prefix, and ships that prefix in the wheel's data directory, which pip unpacks at the
environment prefix. That is the layout the ros-jazzy-* wheels themselves use:

    lib/pythonX.Y/site-packages/a2_grasping/   our Python package + generated msg/srv/action modules
    lib/liba2_grasping__*.so                   interface type support libraries
    lib/a2_grasping/<node>                     node executables (what `ros2 run` looks for)
    bin/a2-grasping                            the command-line tool
    share/a2_grasping/, share/ament_index/     launch, config, interface definitions, package index

plus, where they cannot be imported, the stand-ins for control_msgs and tf2_msgs in interfaces/
(same layout, their own package names).

pip then owns every installed file, so upgrades and `pip uninstall a2-grasping` are clean, and
`pip wheel --no-build-isolation .` gives a wheel for other venvs at the same path. The CMake build
directory is kept in build/cmake, so an unchanged interface set is not regenerated.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build import build

ROOT = Path(__file__).resolve().parent
CMAKE_BUILD_DIR = ROOT / "build" / "cmake"
STAGE_DIR = ROOT / "build" / "stage"
# Interface packages PyPI lacks (control_msgs, tf2_msgs): built where they cannot be imported.
STANDIN_DIR = ROOT / "interfaces"


def _package_version() -> str:
    match = re.search(r"<version>([^<]+)</version>", (ROOT / "package.xml").read_text())
    if match is None:
        raise RuntimeError("package.xml has no <version>")
    return match.group(1).strip()


class BuildWithCMake(build):
    """Builds and stages the CMake install tree, then hands it to install_data."""

    def run(self) -> None:
        jobs = str(os.cpu_count() or 2)
        configure = [
            "cmake", "-S", str(ROOT), "-B", str(CMAKE_BUILD_DIR),
            "-DA2_ROS_FROM_PYPI=ON",
            f"-DPython3_EXECUTABLE={sys.executable}",
            f"-DCMAKE_INSTALL_PREFIX={STAGE_DIR}",
            "-DBUILD_TESTING=OFF",
            "-DCMAKE_BUILD_TYPE=Release",
        ]  # fmt: skip
        subprocess.run(configure, check=True)
        subprocess.run(["cmake", "--build", str(CMAKE_BUILD_DIR), "-j", jobs], check=True)
        shutil.rmtree(STAGE_DIR, ignore_errors=True)
        subprocess.run(["cmake", "--install", str(CMAKE_BUILD_DIR)], check=True)
        for package in sorted(p.parent for p in STANDIN_DIR.glob("*/package.xml")):
            if _needs_standin(package.name):
                _build_and_stage(package, ROOT / "build" / f"cmake_{package.name}", jobs)
        self.distribution.data_files = _staged_data_files()
        super().run()


def _needs_standin(package: str) -> bool:
    """True unless the released package is importable (a stand-in installed by an earlier
    a2_grasping install is rebuilt: the new install replaces the old one's files)."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return True
    marker = Path(sys.prefix) / "share" / package / "a2_grasping_standin.xml"
    return marker.exists()


def _build_and_stage(source: Path, build_dir: Path, jobs: str) -> None:
    configure = [
        "cmake", "-S", str(source), "-B", str(build_dir),
        f"-DPython3_EXECUTABLE={sys.executable}",
        f"-DCMAKE_INSTALL_PREFIX={STAGE_DIR}",
        "-DBUILD_TESTING=OFF",
        "-DCMAKE_BUILD_TYPE=Release",
    ]  # fmt: skip
    subprocess.run(configure, check=True)
    subprocess.run(["cmake", "--build", str(build_dir), "-j", jobs], check=True)
    subprocess.run(["cmake", "--install", str(build_dir)], check=True)


def _staged_data_files() -> list[tuple[str, list[str]]]:
    """The staged tree as (directory relative to the prefix, [files]) pairs.

    ament's own egg-info directory is left out: pip records this distribution itself, and a second
    metadata directory for the same name would confuse `pip show` and `pip uninstall`.
    """
    grouped: dict[str, list[str]] = {}
    for path in sorted(STAGE_DIR.rglob("*")):
        relative = path.relative_to(STAGE_DIR)
        if path.is_dir() or any(part.endswith(".egg-info") for part in relative.parts):
            continue
        if "__pycache__" in relative.parts:
            continue
        grouped.setdefault(str(relative.parent), []).append(str(path))
    return sorted(grouped.items())


class BinaryDistribution(Distribution):
    """The wheel carries compiled type support, so it is platform specific."""

    def has_ext_modules(self) -> bool:
        return True


setup(
    name="a2-grasping",
    version=_package_version(),
    description="Language-conditioned 6-DoF grasping for a UR5e + Robotiq 2F-85 (ROS 2 package)",
    license="Apache-2.0",
    python_requires=">=3.10,<3.14",
    packages=[],
    distclass=BinaryDistribution,
    cmdclass={"build": BuildWithCMake},
    zip_safe=False,
)
