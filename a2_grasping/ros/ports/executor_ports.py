"""Everything executor_node builds at configure and releases at cleanup: the runner and its ports.

Built as nav2 servers build their plugins: on configure, from the node's validated
configuration, each adapter receiving what it uses; `close` destroys every ROS entity made here,
so cleanup -> configure starts from nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.client import Client
from rclpy.lifecycle import LifecycleNode
from rclpy.publisher import Publisher
from rclpy.subscription import Subscription
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory

from a2_grasping.core.executor_config import ExecutorConfig
from a2_grasping.core.planning.config import PlannerConfig
from a2_grasping.core.planning.plans import TaskPlan
from a2_grasping.core.selection.objects import SegmentationConfig
from a2_grasping.core.task.runner import TaskPorts, TaskRunner
from a2_grasping.msg import SceneSnapshot
from a2_grasping.ros import conversions
from a2_grasping.ros.hardware.backends import Backends, make_backends
from a2_grasping.ros.hardware.controllers import JointStateMonitor
from a2_grasping.ros.high_rate import HighRateLane
from a2_grasping.ros.ports.observed import RobotStates, SceneTopic
from a2_grasping.ros.ports.selection_services import GraspService, PlaceService
from a2_grasping.ros.qos import JOINT_STATE_QOS, LATCHED_QOS, SCENE_QOS
from a2_grasping.srv import SelectGrasp, SelectPlace


@dataclass
class ExecutorPorts:
    """The configured runner with the adapters the node reads results and diagnostics from."""

    runner: TaskRunner
    monitor: JointStateMonitor
    scenes: SceneTopic
    grasps: GraspService
    places: PlaceService
    backends: Backends
    _node: LifecycleNode
    _lane: HighRateLane
    _joint_states: Subscription
    _scene_subscription: Subscription
    _clients: tuple[Client, Client]
    _path_publisher: Publisher

    def close(self) -> None:
        """Destroy what `wire_executor` created (the adapters' publishers and clients too)."""
        self.backends.arm.close()
        self.backends.gripper.close()
        self._lane.unsubscribe(self._joint_states)
        self._node.destroy_subscription(self._scene_subscription)
        for client in self._clients:
            self._node.destroy_client(client)
        self._node.destroy_publisher(self._path_publisher)


def wire_executor(
    node: LifecycleNode,
    lane: HighRateLane,
    config: ExecutorConfig,
    planner_config: PlannerConfig,
    segmentation: SegmentationConfig,
) -> ExecutorPorts:
    """Build the runner over ROS adapters. Raises ValueError when a backend is unavailable."""
    monitor = JointStateMonitor(config.joint_names, config.gripper_joint)
    backends = make_backends(node, config, planner_config, monitor)
    scenes = SceneTopic(node.get_clock(), config.input_wait_s, config.max_scene_age_s)
    scene_subscription = node.create_subscription(
        SceneSnapshot,
        config.scene_topic,
        _scene_receiver(node, scenes),
        SCENE_QOS,
        callback_group=MutuallyExclusiveCallbackGroup(),
    )
    # Responses complete futures a running task waits on: a reentrant group of their own.
    service_group = ReentrantCallbackGroup()
    grasp_client = node.create_client(
        SelectGrasp, config.select_service, callback_group=service_group
    )
    place_client = node.create_client(
        SelectPlace, config.select_place_service, callback_group=service_group
    )
    # Joint states (100-500 Hz) feed every wait of a running task: on the high-rate lane, never
    # starved by the executor's other callbacks.
    joint_states = lane.subscribe(
        JointState, config.joint_states_topic, monitor.on_joint_state, JOINT_STATE_QOS
    )
    path_publisher = node.create_publisher(JointTrajectory, config.planned_path_topic, LATCHED_QOS)
    grasps = GraspService(grasp_client, config.select_timeout_s, node.get_clock())
    places = PlaceService(place_client, config.select_timeout_s, node.get_clock())
    runner = TaskRunner(
        config,
        TaskPorts(
            planner=backends.planner,
            arm=backends.arm,
            gripper=backends.gripper,
            robot=RobotStates(monitor, node.get_clock()),
            scenes=scenes,
            grasps=grasps,
            places=places,
            publish_plan=_plan_publisher(path_publisher, config.joint_names),
            log=lambda text: node.get_logger().info(text),
        ),
        segmentation,
    )
    return ExecutorPorts(
        runner,
        monitor,
        scenes,
        grasps,
        places,
        backends,
        node,
        lane,
        joint_states,
        scene_subscription,
        (grasp_client, place_client),
        path_publisher,
    )


def _scene_receiver(node: LifecycleNode, scenes: SceneTopic) -> Callable[[SceneSnapshot], None]:
    def on_scene(msg: SceneSnapshot) -> None:
        try:
            scene = conversions.scene_from_msg(msg)
            if not scene.views:
                raise ValueError("it has no camera images: obstacles outside the cloud are unknown")
        except ValueError as error:
            node.get_logger().warning(f"ignoring scene: {error}", throttle_duration_sec=5.0)
            return
        scenes.on_scene(scene)

    return on_scene


def _plan_publisher(
    publisher: Publisher, joint_names: tuple[str, ...]
) -> Callable[[TaskPlan], None]:
    """Every plan (dry runs too) as one JointTrajectory, for RViz and recorders."""

    def publish(plan: TaskPlan) -> None:
        path = plan.joined()
        publisher.publish(
            conversions.trajectory_to_msg(
                joint_names, path.times_s, path.positions_rad, path.velocities_rad_s
            )
        )

    return publish
