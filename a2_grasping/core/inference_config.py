"""Configuration of the grasp-selection service (the inference node's parameters)."""

from __future__ import annotations

from dataclasses import dataclass

from a2_grasping.core.config_fields import config_field, validate_ranges
from a2_grasping.core.policy.hardware import DEVICES, PRECISIONS, check_choice

# Tiles per image side: beyond this a tile of a 480x640 view is a few pixels wide.
MAX_CLIP_TILES = 16
# Parameters that may change while the node is unconfigured (cleanup -> set -> configure);
# configure reads and validates them again. Every other parameter is read-only.
RELOADABLE_PARAMETERS = (
    "fusion_weights_path",
    "clip_model",
    "graspnet_weights_path",
    "device",
    "precision",
    "clip_tiles",
    "record_path",
    "warm_up",
)


@dataclass(frozen=True)
class InferenceConfig:
    """Parameters of inference_node; each field is a declared ROS parameter of the same name."""

    scene_topic: str = config_field(
        "a2/scene", "Topic of the fused scene (a2_grasping/msg/SceneSnapshot) to select grasps on."
    )
    service_name: str = config_field("select_grasp", "Name of the SelectGrasp service.")
    place_service_name: str = config_field(
        "select_place", "Name of the SelectPlace service (release poses for the held object)."
    )
    max_input_age_s: float = config_field(
        2.0,
        "Default maximum scene age in seconds, used when a request leaves max_input_age_s at 0.",
        min_value=0.001,
        max_value=3600.0,
    )
    max_future_stamp_s: float = config_field(
        0.5,
        "Scenes stamped further than this many seconds ahead of the node clock are refused.",
        min_value=0.0,
        max_value=60.0,
    )
    max_candidates: int = config_field(
        10,
        "Default number of ranked candidates returned, used when a request leaves it at 0.",
        min_value=1,
        max_value=1000,
    )
    fusion_weights_path: str = config_field(
        "",
        "A2 fusion weights (sl_checkpoint_199.pth or .safetensors). Empty, or clip_model empty: "
        "attributes mode (or geometric mode, see ground_instructions).",
        read_only=False,
    )
    ground_instructions: bool = config_field(
        True,
        "Without A2 weights: ground each instruction to the object it names (attributes mode: "
        "colour, shape, size, position and relation words) and grasp only that object. False: "
        "geometric mode, the best antipodal grasp anywhere; the instruction is not used. With A2 "
        "weights: the guard on the learned choice; the words grounding understands restrict A2 "
        "to the objects they fit, with the same refusals (TARGET_NOT_FOUND, AMBIGUOUS_TARGET); "
        "object nouns it does not know ('banana') are left to A2. False: A2 unguarded.",
    )
    clip_model: str = config_field(
        "",
        "Local directory (or offline Hugging Face cache name) of the CLIP model for a2 mode.",
        read_only=False,
    )
    graspnet_weights_path: str = config_field(
        "",
        "GraspNet weights (checkpoint-rs.tar, published format). Set: GraspNet-baseline "
        "candidates; empty: the geometric antipodal sampler.",
        read_only=False,
    )
    check_reachability: bool = config_field(
        True,
        "Drop grasps the UR5e cannot reach (analytic IK of the grasp and of its pre-grasp pose); "
        "the scene's frame must be the robot's base_link. All unreachable: "
        "NO_REACHABLE_CANDIDATE.",
    )
    queue_timeout_s: float = config_field(
        0.0,
        "A request arriving while another selection runs: 0 refuses it with BUSY at once; > 0 "
        "waits up to this many seconds for its turn, then BUSY.",
        min_value=0.0,
        max_value=60.0,
    )
    markers_topic: str = config_field(
        "a2/grasp_markers",
        "RViz markers (visualization_msgs/MarkerArray) of the last answer's candidates.",
    )
    record_path: str = config_field(
        "",
        "Directory of a new MCAP bag that records every request: the scene it ran on and the "
        "request + response as service events. Empty: no recording.",
        read_only=False,
    )
    autostart: bool = config_field(
        False,
        "Configure and activate right after start-up, without a lifecycle manager.",
    )
    # ---- where and how the models run (a2_grasping/core/policy/hardware.py) ----
    device: str = config_field(
        "auto",
        "Device of CLIP, the fusion network and GraspNet: cpu, cuda, or auto (CUDA when torch "
        "sees a device, else cpu). cuda without a CUDA device fails configure.",
        read_only=False,
    )
    precision: str = config_field(
        "auto",
        "CLIP precision: fp32, bf16, or auto (bf16 where the hardware runs it natively: a CUDA "
        "device with bf16, a CPU with AMX-BF16 or AVX512-BF16; fp32 elsewhere). The fusion "
        "network and GraspNet always run in fp32. On CUDA, bf16 runs CLIP under autocast.",
        read_only=False,
    )
    clip_tiles: tuple[int, ...] = config_field(
        (3, 4),
        "CLIP tiles per view [rows, columns]. [3, 4] is the published recipe the fusion network "
        "was trained on; fewer tiles are proportionally faster but coarser (measured fidelity: "
        "README, bench model).",
        read_only=False,
    )
    warm_up: bool = config_field(
        True,
        "At configure, run one dummy selection on a synthetic scene (a box on a table, one "
        "640x480 view) so the first request pays no lazy initialisation; its duration and "
        "outcome are in /diagnostics (warm_up_s, warm_up).",
        read_only=False,
    )

    @property
    def a2_mode_configured(self) -> bool:
        return bool(self.fusion_weights_path.strip() and self.clip_model.strip())

    def __post_init__(self) -> None:
        validate_ranges(self)
        for name in ("scene_topic", "service_name", "place_service_name", "markers_topic"):
            if not getattr(self, name).strip():
                raise ValueError(f"{name} must not be empty")
        # YAML and callers may give a list: keep the frozen config hashable and comparable.
        object.__setattr__(self, "clip_tiles", tuple(self.clip_tiles))
        check_choice("device", self.device, DEVICES)
        check_choice("precision", self.precision, PRECISIONS)
        if len(self.clip_tiles) != 2 or not all(
            isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= MAX_CLIP_TILES
            for n in self.clip_tiles
        ):
            raise ValueError(
                f"clip_tiles: expected [rows, columns], each 1..{MAX_CLIP_TILES}, "
                f"got {list(self.clip_tiles)}"
            )
