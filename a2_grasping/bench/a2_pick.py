"""A2 mode end to end on this machine: `a2-grasping bench a2-pick --json OUT`.

Writes random weights of the published sizes to a local directory next to OUT (CLIP ViT-L/14@336
with a letter tokenizer and the fusion network as .safetensors, about 1.7 GB, deleted afterwards),
starts the simulated cell with inference_node in a2 mode on them and runs --episodes /pick goals
in single-object scenes. Candidates come from the antipodal generator: a random GraspNet's grasps
are random and the arm reaches almost none of them, so --graspnet (a random GraspNet of the
published size, checkpoint-rs.tar layout) times that configuration but is not expected to pick.
The node's defaults (time_budget_s, clip_tiles, device, precision) apply unless an option
overrides them; with --time-budget-s the executor's select_timeout_s is raised with it.

Random weights cannot follow the instruction: what this measures is whether a2 mode runs end to
end within its budget (the server refuses an over-budget selection with TIMEOUT) and how long
each part takes: one /select_grasp call before each pick (its stage timings), the server's
latency over all calls (its /diagnostics), the executor's time per stage and the whole pick.
The JSON names the CPU and the device and precision the node chose.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import time
from pathlib import Path
from typing import Any

# Single-object scenes hold a box, a cylinder or a ball: a shape word would be refused by the
# guard (TARGET_NOT_FOUND) wherever the object has another shape.
INSTRUCTION = "pick up the object"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, required=True, help="where to write the results")
    parser.add_argument("--episodes", type=int, default=3, help="/pick goals, one per scene")
    parser.add_argument("--seed", type=int, default=3, help="seed of the first scene")
    parser.add_argument(
        "--clip-tiles", type=int, nargs=2, metavar=("ROWS", "COLS"), help="default: the node's"
    )
    parser.add_argument("--time-budget-s", type=float, help="default: the node's time_budget_s")
    parser.add_argument("--precision", choices=("fp32", "bf16", "auto"), help="default: auto")
    parser.add_argument(
        "--graspnet", action="store_true", help="candidates from a random published-size GraspNet"
    )
    parser.add_argument("--domain-id", type=int, default=0, help="0: reserve a free one")
    parser.set_defaults(run=run)


def write_random_weights(
    directory: Path, clip_towers: dict[str, Any], *, graspnet: bool
) -> dict[str, str]:
    """Random weights for a2 mode (CLIP of `clip_towers`, e.g. VIT_L14_336, the fusion network of
    the published size, optionally GraspNet); returns inference_node's parameters naming them."""
    import torch
    from safetensors.torch import save_file

    from a2_grasping.core.policy.fusion_config import FusionConfig
    from a2_grasping.core.policy.fusion_model import A2FusionModel
    from a2_grasping.testing.offline_clip import letter_tokenizer, random_clip
    from a2_grasping.testing.random_graspnet import random_graspnet

    torch.manual_seed(0)
    clip_dir = directory / "clip"
    random_clip(clip_towers).save_pretrained(clip_dir)
    letter_tokenizer(directory / "vocab").save_pretrained(clip_dir)
    fusion_path = directory / "fusion.safetensors"
    save_file(A2FusionModel(FusionConfig()).state_dict(), str(fusion_path))
    parameters = {"clip_model": str(clip_dir), "fusion_weights_path": str(fusion_path)}
    if graspnet:
        graspnet_path = directory / "checkpoint-rs.tar"
        state = random_graspnet(0).state_dict()
        torch.save({"epoch": 0, "model_state_dict": state}, graspnet_path)
        parameters["graspnet_weights_path"] = str(graspnet_path)
    return parameters


def _node_arguments(args: argparse.Namespace, weights: dict[str, str]) -> dict[str, list[str]]:
    from a2_grasping.core.executor_config import SELECT_TIMEOUT_MARGIN_S

    inference = [f"{name}:={value}" for name, value in weights.items()]
    executor = ["max_grasp_attempts:=1"]  # one selection per pick: each is timed
    if args.clip_tiles:
        inference.append(f"clip_tiles:=[{args.clip_tiles[0]}, {args.clip_tiles[1]}]")
    if args.precision:
        inference.append(f"precision:={args.precision}")
    if args.time_budget_s:
        inference.append(f"time_budget_s:={args.time_budget_s}")
        executor.append(f"select_timeout_s:={args.time_budget_s + SELECT_TIMEOUT_MARGIN_S}")
    return {
        "inference_node": [part for value in inference for part in ("-p", value)],
        "executor_node": [part for value in executor for part in ("-p", value)],
    }


def run(args: argparse.Namespace) -> int:
    if args.domain_id:
        return _run(args, args.domain_id)
    from domain_coordinator import domain_id

    with domain_id() as reserved:
        return _run(args, reserved)


def _run(args: argparse.Namespace, domain_id: int) -> int:
    from a2_grasping.core.policy.hardware import read_cpu_info
    from a2_grasping.testing.offline_clip import VIT_L14_336
    from a2_grasping.testing.sim_session import SimSession

    out_dir = args.json.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    weights_dir = out_dir / "a2_pick_random_weights"
    cpu = read_cpu_info()
    print(f"CPU: {cpu.describe()}", flush=True)
    try:
        started_s = time.monotonic()
        weights = write_random_weights(weights_dir, VIT_L14_336, graspnet=args.graspnet)
        results: dict[str, Any] = {
            "cpu": {"description": cpu.describe(), "relevant_flags": cpu.relevant_flags()},
            "instruction": INSTRUCTION,
            "candidates": "graspnet (random)" if args.graspnet else "antipodal",
            "weights_written_s": round(time.monotonic() - started_s, 1),
        }
        started_s = time.monotonic()
        with SimSession(
            domain_id,
            out_dir / "bench_a2_pick_logs",
            node_arguments=_node_arguments(args, weights),
            say=lambda message: print(message, flush=True),
        ) as session:
            results["start_up_s"] = round(time.monotonic() - started_s, 1)
            results["inference_parameters"] = session.node_parameters(
                "inference_node", ["time_budget_s", "clip_tiles", "device", "precision"]
            )
            budget_s = float(results["inference_parameters"]["time_budget_s"])
            results["episodes"] = [
                _episode(session, args.seed + episode, budget_s) for episode in range(args.episodes)
            ]
            results["inference_diagnostics"] = session.diagnostic_values("inference_node")
    finally:
        shutil.rmtree(weights_dir, ignore_errors=True)
    codes = [episode["error_code"] for episode in results["episodes"]]
    results["all_picks_completed"] = all(code == 0 for code in codes)
    args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(json.dumps({k: v for k, v in results.items() if k != "episodes"}, indent=2, default=str))
    print(f"wrote {args.json}")
    return 0 if results["all_picks_completed"] else 1


def _select_once(session: Any, budget_s: float) -> dict[str, Any]:
    """One /select_grasp call on the scene the pick will see: the server's stage timings."""
    from a2_grasping.core.executor_config import SELECT_TIMEOUT_MARGIN_S
    from a2_grasping.ros.client import clients
    from a2_grasping.srv import SelectGrasp

    client = session.node.create_client(SelectGrasp, "select_grasp")
    try:
        clients.wait_for_service(client, 10.0)
        started_s = time.monotonic()
        response = clients.call(
            session.node,
            client,
            SelectGrasp.Request(instruction=INSTRUCTION),
            budget_s + SELECT_TIMEOUT_MARGIN_S,
        )
        return {
            "error_code": int(response.error_code),
            "error_message": response.error_message,
            "mode": response.mode,
            "round_trip_s": round(time.monotonic() - started_s, 2),
            "server_stages_ms": {
                stage: round(ms, 1)
                for stage, ms in zip(response.timing_stages, response.timing_ms, strict=True)
            },
        }
    finally:
        session.node.destroy_client(client)


def _episode(session: Any, seed: int, budget_s: float) -> dict[str, Any]:
    from a2_grasping.action import Pick

    session.reset(seed, "single")
    session.wait_for_fresh_scene()
    selection = _select_once(session, budget_s)
    stage_times_s: dict[str, float] = {}
    started_s = time.monotonic()
    result, stages = session.pick(
        Pick.Goal(instruction=INSTRUCTION),
        on_stage=lambda stage: stage_times_s.setdefault(stage, time.monotonic()),
    )
    pick_s = time.monotonic() - started_s
    ordered = sorted(stage_times_s.items(), key=lambda item: item[1])
    durations_s = {
        stage: round(following - at, 2)
        for (stage, at), (_, following) in itertools.pairwise(ordered)
    }
    record = {
        "seed": seed,
        "select_grasp": selection,
        "error_code": int(result.error_code),
        "error_message": result.error_message,
        "object_held": bool(result.object_held),
        "pick_s": round(pick_s, 2),
        "stage_durations_s": durations_s,
        "stages": stages,
    }
    print(json.dumps(record), flush=True)
    return record
