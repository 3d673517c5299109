# Build against ROS 2 installed from the ros-jazzy-* wheels on PyPI (a Python venv, no /opt/ros).
#
# Enabled with -DA2_ROS_FROM_PYPI=ON (the README's setup does this); a build on a real ROS install
# never includes this file. Two things differ from a sourced ROS install:
#   1. Nothing has set CMAKE_PREFIX_PATH / AMENT_PREFIX_PATH, so we derive the wheels' prefix
#      from where the venv's ament_package module lives.
#   2. The wheels were built in a manylinux container and their exported rosidl Python targets
#      carry that container's include paths (/opt/python/cp3XX-.../include/...). CMake refuses
#      imported targets whose include directories do not exist, so we drop exactly those paths
#      once configuration is complete. Our own generator_py target adds this machine's Python and
#      NumPy include directories, so nothing needed is lost.
#   3. The venv lives inside the source tree (.venv/), so the Python/NumPy include directories that
#      rosidl puts in our own targets' usage requirements are "prefixed in the source directory",
#      which install(EXPORT) rejects. They only matter inside this build, so they are wrapped in
#      $<BUILD_INTERFACE:...> and left out of the exported CMake config.
cmake_minimum_required(VERSION 3.21)  # cmake_language(DEFER) and the IMPORTED_TARGETS property

if(NOT Python3_EXECUTABLE)
  find_package(Python3 REQUIRED COMPONENTS Interpreter)
endif()

# <prefix>/lib/pythonX.Y/site-packages/ament_package/__init__.py -> <prefix>
execute_process(
  COMMAND "${Python3_EXECUTABLE}" -c
          "import ament_package, pathlib; print(pathlib.Path(ament_package.__file__).resolve().parents[4])"
  OUTPUT_VARIABLE A2_ROS_WHEELS_PREFIX
  OUTPUT_STRIP_TRAILING_WHITESPACE
  RESULT_VARIABLE _a2_probe_result)
if(NOT _a2_probe_result EQUAL 0 OR NOT EXISTS "${A2_ROS_WHEELS_PREFIX}/share/ament_cmake_core/cmake")
  message(FATAL_ERROR
    "A2_ROS_FROM_PYPI: ${Python3_EXECUTABLE} has no ROS build wheels (ament_package, ament_cmake). "
    "Install requirements/ros-jazzy.txt into that environment first.")
endif()
list(PREPEND CMAKE_PREFIX_PATH "${A2_ROS_WHEELS_PREFIX}")
# rosidl finds its type support packages through the ament index, which reads this variable.
set(ENV{AMENT_PREFIX_PATH} "${A2_ROS_WHEELS_PREFIX}:$ENV{AMENT_PREFIX_PATH}")
message(STATUS "a2_grasping: building against ROS wheels in ${A2_ROS_WHEELS_PREFIX}")

function(_a2_drop_container_include_dirs)
  get_property(_imported DIRECTORY "${CMAKE_SOURCE_DIR}" PROPERTY IMPORTED_TARGETS)
  foreach(_target IN LISTS _imported)
    get_target_property(_dirs "${_target}" INTERFACE_INCLUDE_DIRECTORIES)
    if(_dirs)
      set(_kept "${_dirs}")
      list(FILTER _kept EXCLUDE REGEX "^/opt/python/cp[0-9]+-")
      if(NOT "${_kept}" STREQUAL "${_dirs}")
        set_target_properties("${_target}" PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_kept}")
      endif()
    endif()
  endforeach()
endfunction()

function(_a2_keep_source_tree_include_dirs_private)
  get_property(_own DIRECTORY "${CMAKE_SOURCE_DIR}" PROPERTY BUILDSYSTEM_TARGETS)
  foreach(_target IN LISTS _own)
    get_target_property(_type "${_target}" TYPE)
    if(_type STREQUAL "UTILITY")
      continue()
    endif()
    get_target_property(_dirs "${_target}" INTERFACE_INCLUDE_DIRECTORIES)
    if(NOT _dirs)
      continue()
    endif()
    set(_wrapped "")
    foreach(_dir IN LISTS _dirs)
      string(FIND "${_dir}" "${CMAKE_SOURCE_DIR}/" _position)
      if(NOT _position EQUAL 0)
        list(APPEND _wrapped "${_dir}")
      else()
        list(APPEND _wrapped "$<BUILD_INTERFACE:${_dir}>")
      endif()
    endforeach()
    set_target_properties("${_target}" PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_wrapped}")
  endforeach()
endfunction()

function(_a2_fix_include_dirs)
  _a2_drop_container_include_dirs()
  _a2_keep_source_tree_include_dirs_private()
endfunction()
cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL _a2_fix_include_dirs)
