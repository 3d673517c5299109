"""A long soak of the running simulated cell: `a2-grasping bench soak --json OUT`.

The four nodes run as processes (SimSession, the shipped parameters). Two phases:
1. `--selects` /select_grasp calls on a clutter scene, one per `--call-period-s` at most (a tree
   ticking at 10 Hz), the instructions in rotation;
   every `--dropout-period-s` (wall) one camera stops for `--dropout-s` (sim-only /sim/fault),
   so answers while it is out (STALE_SCENE once the scene is older than max_input_age_s) and the
   recovery are part of the run. (By wall time, not by call count: a refusal takes a
   millisecond, a selection a hundred, so counted calls would keep the camera out most of the
   time.)
2. `--picks` /pick goals on seeded single-object scenes (a reset each); during every
   `--dropout-every-picks`-th pick one camera drops out as the arm moves to the pre-grasp.
   A pick counts as completed when /pick answered 0 and ground truth shows the object lifted; a
   0 without the lift is counted as a false success (it must stay 0).
Each node's resident memory (VmRSS) is sampled throughout. Reported: calls answered and their
codes, latency p50/p99, picks completed, false successes, RSS at start/end/max and growth per
node, and the CPU. Plain runs take long (10 000 selections and 200 picks: about two hours on two
cores); --selects and --picks scale it down for a quick look.
"""

from __future__ import annotations

import argparse
import collections
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

INSTRUCTIONS = ("pick up the object", "pick up the box", "grab the biggest object", "any ball")
CALL_TIMEOUT_S = 30.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, required=True, help="where to write the results")
    parser.add_argument("--selects", type=int, default=10000, help="/select_grasp calls")
    parser.add_argument("--picks", type=int, default=200, help="/pick goals")
    parser.add_argument("--seed", type=int, default=9100, help="first scene seed")
    parser.add_argument("--dropout-period-s", type=float, default=60.0)
    parser.add_argument(
        "--call-period-s",
        type=float,
        default=0.1,
        help="at most one /select_grasp call per period, as a tree ticking at 10 Hz (0: back to "
        "back; on two cores that starves perception and most answers become STALE_SCENE)",
    )
    parser.add_argument("--dropout-every-picks", type=int, default=5)
    parser.add_argument("--dropout-s", type=float, default=3.0, help="simulated seconds")
    parser.add_argument("--rss-every-selects", type=int, default=100)
    parser.add_argument("--domain-id", type=int, default=0, help="0: reserve a free one")
    parser.set_defaults(run=run)


def rss_mb(pid: int) -> float:
    """Resident memory of a process (Linux /proc), MB; NaN once it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def rss_summary(samples: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per node: first, last, max and last - first (MB) over the samples."""
    summary = {}
    for name in samples[0]:
        series = [s[name] for s in samples]
        summary[name] = {
            "start_mb": round(series[0], 1),
            "end_mb": round(series[-1], 1),
            "max_mb": round(max(series), 1),
            "growth_mb": round(series[-1] - series[0], 1),
        }
    return summary


def percentiles_ms(samples_ms: list[float]) -> dict[str, float]:
    if not samples_ms:
        return {"count": 0}
    values = np.asarray(samples_ms)
    return {
        "count": len(samples_ms),
        "p50_ms": round(float(np.percentile(values, 50)), 1),
        "p99_ms": round(float(np.percentile(values, 99)), 1),
        "max_ms": round(float(values.max()), 1),
    }


def run(args: argparse.Namespace) -> int:
    if args.selects < 0 or args.picks < 0:
        raise SystemExit("--selects and --picks must be >= 0")
    if args.domain_id:
        return _run(args, args.domain_id)
    from domain_coordinator import domain_id

    with domain_id() as reserved:
        return _run(args, reserved)


def _run(args: argparse.Namespace, domain: int) -> int:
    from a2_grasping.core.policy.hardware import read_cpu_info
    from a2_grasping.testing.sim_session import SimSession

    started_s = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="a2_soak_") as logs,
        SimSession(domain, Path(logs), say=print) as session,
    ):
        pids = {p.name: p.pid for p in session.processes}
        samples: list[dict[str, float]] = [{n: rss_mb(p) for n, p in pids.items()}]
        selects = _select_phase(args, session, pids, samples)
        picks = _pick_phase(args, session, pids, samples)
    result: dict[str, Any] = {
        "cpu": read_cpu_info().describe(),
        "settings": {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in vars(args).items()
            if not callable(v)
        },
        "selects": selects,
        "picks": picks,
        "rss": rss_summary(samples),
        "rss_samples": len(samples),
        # Every sample per node (MB), to tell a leak (steady growth) from a warm-up (a plateau).
        "rss_series_mb": {
            name: [round(sample[name], 1) for sample in samples] for name in samples[0]
        },
        "duration_s": round(time.monotonic() - started_s, 1),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: result[k] for k in ("selects", "picks", "rss")}, indent=2))
    print(f"wrote {args.json}")
    return 0


def _camera_dropout(duration_s: float) -> Any:
    from a2_grasping.sim.config import SimConfig
    from a2_grasping.srv import SimFault

    return SimFault.Request(
        kind=SimFault.Request.FREEZE_CAMERAS,
        camera_name=SimConfig().camera_names[0],
        duration_s=duration_s,
    )


def _select_phase(
    args: argparse.Namespace, session: Any, pids: dict[str, int], samples: list[Any]
) -> dict[str, Any]:
    from a2_grasping.core.errors import SelectErrorCode
    from a2_grasping.ros.client import clients
    from a2_grasping.srv import SelectGrasp

    if args.selects == 0:
        return {"calls": 0}
    session.reset(args.seed, "clutter")
    session.wait_for_fresh_scene()
    client = session.node.create_client(SelectGrasp, "select_grasp")
    clients.wait_for_service(client, CALL_TIMEOUT_S)
    codes: collections.Counter[str] = collections.Counter()
    latency_ms: list[float] = []
    unanswered = 0
    sent_s = time.perf_counter()
    next_dropout_s = time.monotonic() + args.dropout_period_s
    for call in range(args.selects):
        if time.monotonic() >= next_dropout_s:
            session.fault(_camera_dropout(args.dropout_s))
            next_dropout_s += args.dropout_period_s
        request = SelectGrasp.Request(instruction=INSTRUCTIONS[call % len(INSTRUCTIONS)])
        if call:
            session.spin_for(args.call_period_s - (time.perf_counter() - sent_s))
        sent_s = time.perf_counter()
        try:
            response = clients.call(session.node, client, request, CALL_TIMEOUT_S)
        except TimeoutError:
            unanswered += 1
            continue
        latency_ms.append(1e3 * (time.perf_counter() - sent_s))
        codes[SelectErrorCode(response.error_code).name] += 1
        if (call + 1) % args.rss_every_selects == 0:
            samples.append({n: rss_mb(p) for n, p in pids.items()})
        if (call + 1) % 1000 == 0:
            print(f"[soak] {call + 1} selections, codes {dict(codes)}", flush=True)
    session.node.destroy_client(client)
    return {
        "calls": args.selects,
        "answered": len(latency_ms),
        "unanswered": unanswered,
        "codes": dict(codes),
        "latency": percentiles_ms(latency_ms),
    }


def _pick_phase(
    args: argparse.Namespace, session: Any, pids: dict[str, int], samples: list[Any]
) -> dict[str, Any]:
    from a2_grasping.action import Pick
    from a2_grasping.core.errors import SelectErrorCode

    codes: collections.Counter[int] = collections.Counter()
    select_codes: collections.Counter[str] = collections.Counter()  # of SELECTION_FAILED
    completed = false_successes = dropouts = 0
    durations_ms: list[float] = []
    for index in range(args.picks):
        session.reset(args.seed + index, "single")
        session.wait_for_fresh_scene()
        faults = []
        if args.dropout_every_picks and index % args.dropout_every_picks == 0:
            faults = [("moving_to_pregrasp", _camera_dropout(args.dropout_s))]
            dropouts += 1
        started_s = time.perf_counter()
        result, _stages = session.pick(Pick.Goal(instruction="pick up the object"), faults=faults)
        durations_ms.append(1e3 * (time.perf_counter() - started_s))
        codes[int(result.error_code)] += 1
        if result.select_error_code:
            select_codes[SelectErrorCode(result.select_error_code).name] += 1
        lifted = session.objects()[0].height_gain_m >= 0.05
        if result.error_code == Pick.Result.NONE:
            completed += int(lifted)
            false_successes += int(not lifted)
        samples.append({n: rss_mb(p) for n, p in pids.items()})
        print(f"[soak] pick {index + 1}/{args.picks}: code {result.error_code}", flush=True)
    return {
        "goals": args.picks,
        "completed": completed,
        "false_successes": false_successes,
        "with_camera_dropout": dropouts,
        "codes": {str(code): count for code, count in sorted(codes.items())},
        "select_codes": dict(select_codes),
        "duration": percentiles_ms(durations_ms),
    }
