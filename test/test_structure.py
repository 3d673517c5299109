"""The package's structure, as the README's "Layout" states it: which package may import which,
no import circle in core/, messages built only at the conversion boundary, functions short enough
to read.

Static (the source's syntax trees): nothing is imported or run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "a2_grasping"
GENERATED = ("msg", "srv", "action")
# What each package may not import (its own layer and those below it are allowed).
FORBIDDEN = {
    "core": ("ros", "sim", "bench", "testing", "tools", "bt", "cli"),
    "sim": ("ros", "bench", "testing", "tools", "bt", "cli"),
    "ros": ("bench", "testing", "tools", "bt", "cli"),
    "bt": ("bench", "testing", "tools", "cli"),
    "testing": ("bench", "tools", "cli"),
    "bench": ("tools", "cli"),
}
# The modules where messages carrying the task's data are built (sensor, geometry, trajectory,
# std and this package's interfaces). Infrastructure messages (diagnostics, parameter
# descriptors, lifecycle requests, /clock) are built by the module owning that infrastructure.
CONVERSION_MODULES = {
    "ros/conversions.py",
    "ros/task_conversions.py",
    "ros/sim_conversions.py",
    "ros/markers.py",
}
DATA_MESSAGE_PACKAGES = (
    "a2_grasping.msg",
    "a2_grasping.srv",
    "a2_grasping.action",
    "sensor_msgs.msg",
    "geometry_msgs.msg",
    "trajectory_msgs.msg",
    "std_msgs.msg",
    "control_msgs.action",
)
MAX_FUNCTION_LINES = 80


def _sources() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.split("/")[0] in GENERATED:
            continue
        yield relative, ast.parse(path.read_text(), filename=str(path))


def _imported_modules(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:  # `from a2_grasping import bench` imports a package
                yield node.lineno, f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "a2_grasping" or len(parts) < 2:
        return None
    return parts[1]


def test_no_package_imports_a_layer_above_it():
    wrong = []
    for relative, tree in _sources():
        own = relative.split("/")[0].removesuffix(".py")
        for lineno, module in _imported_modules(tree):
            if _layer(module) in FORBIDDEN.get(own, ()):
                wrong.append(f"{relative}:{lineno} imports {module}")
    assert not wrong, "\n".join(wrong)


def _module_exists(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def test_core_has_no_import_circle():
    """Module-level imports (what runs at import time). `from package import submodule` is an
    arrow to the submodule; a package's own __init__, which Python initialises before any of its
    submodules, is no arrow from them."""
    graph: dict[str, set[str]] = {}
    for relative, tree in _sources():
        if not relative.startswith("core/"):
            continue
        name = "a2_grasping." + relative.removesuffix(".py").replace("/", ".")
        name = name.removesuffix(".__init__")
        targets = set()
        for node in tree.body:
            if not isinstance(node, ast.ImportFrom) or not node.module:
                continue
            if not node.module.startswith("a2_grasping.core"):
                continue
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                targets.add(submodule if _module_exists(submodule) else node.module)
        graph[name] = {t for t in targets if not name.startswith(t + ".")}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        assert name not in visiting, "import circle: " + " -> ".join([*visiting, name])
        visiting.append(name)
        for imported in graph.get(name, ()):
            visit(imported)
        visiting.pop()
        done.add(name)

    for name in graph:
        visit(name)


def test_data_messages_are_built_only_in_the_conversion_modules():
    wrong = []
    for relative, tree in _sources():
        if not relative.startswith("ros/") or relative in CONVERSION_MODULES:
            continue
        message_names = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module in DATA_MESSAGE_PACKAGES
            for alias in node.names
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            function = node.func
            while isinstance(function, ast.Attribute):  # Pick.Result(), Pick.Goal()
                function = function.value
            if isinstance(function, ast.Name) and function.id in message_names:
                wrong.append(f"{relative}:{node.lineno} builds {ast.unparse(node.func)}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("root", ["a2_grasping", "test"])
def test_no_function_is_longer_than_a_screen(root):
    long = []
    for path in sorted((PACKAGE.parent / root).rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).as_posix()
        if relative.split("/")[1] in GENERATED:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{relative}:{node.lineno} {node.name}: {lines} lines")
    assert not long, "\n".join(long)
