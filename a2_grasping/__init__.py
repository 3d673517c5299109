"""Language-conditioned 6-DoF grasping (A2 / ViLGP3D) for a UR5e with a Robotiq 2F-85.

`core` is ROS-free; `sim` the MuJoCo cell; `ros` the ROS 2 edge (the nodes, hardware adapters,
bags and the client library); `bt` behaviour-tree leaves; `testing`, `bench` and `tools` the
harness, the benchmarks and the user's command lines. Imports point down that list (README,
"Layout"; test/test_structure.py checks it). `msg`, `srv` and `action` are generated from the
interface definitions at build time and installed beside this package.
"""

from pkgutil import extend_path

# When Python runs from a source checkout, this directory shadows the installed copy, which is
# the only one holding the generated msg/srv/action modules. Extending the package path with
# every other `a2_grasping` directory on sys.path (the installed one) keeps them importable; in
# an installed tree there is only one directory and this changes nothing.
__path__ = extend_path(__path__, __name__)

__version__ = "0.1.0"
