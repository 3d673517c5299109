"""Device and precision choice: CPU flags, auto rules, refusals with clear errors."""

from __future__ import annotations

import pytest
import torch

from a2_grasping.core.inference_config import InferenceConfig
from a2_grasping.core.policy.hardware import (
    CpuInfo,
    DeviceUnavailableError,
    parse_cpuinfo,
    read_cpu_info,
    resolve_device,
    resolve_hardware,
    resolve_precision,
)

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC
flags\t\t: fpu sse avx2 fma avx512f avx512bw avx512vl avx512_vnni avx512_bf16

processor\t: 1
model name\t: second block is ignored
flags\t\t: avx2
"""
ZEN3 = CpuInfo("AMD EPYC 7B13", "AuthenticAMD", "25", "1", frozenset({"avx2", "fma"}))
SAPPHIRE_RAPIDS = CpuInfo(
    "Intel Xeon", "GenuineIntel", "6", "143", frozenset({"avx2", "avx512f", "amx_bf16"})
)
CPU = torch.device("cpu")


def test_cpuinfo_is_parsed_from_the_first_processor():
    info = parse_cpuinfo(CPUINFO)
    assert info.model_name == "AMD EPYC" and (info.family, info.model) == ("25", "17")
    assert info.native_bf16
    assert info.relevant_flags() == [
        "avx2",
        "fma",
        "avx512f",
        "avx512bw",
        "avx512vl",
        "avx512_vnni",
        "avx512_bf16",
    ]
    assert "family 25 model 17" in info.describe()


def test_unreadable_cpuinfo_means_no_flags(tmp_path):
    info = read_cpu_info(tmp_path / "missing")
    assert info == CpuInfo() and not info.native_bf16


@pytest.mark.parametrize(
    ("cpu", "requested", "expected"),
    [
        (ZEN3, "auto", "fp32"),  # bf16 emulated on AVX2: slower than fp32
        (SAPPHIRE_RAPIDS, "auto", "bf16"),  # AMX
        (parse_cpuinfo(CPUINFO), "auto", "bf16"),  # AVX512-BF16
        (ZEN3, "bf16", "bf16"),  # asked for: given, and the reason says it is emulated
        (SAPPHIRE_RAPIDS, "fp32", "fp32"),
    ],
)
def test_precision_follows_the_cpu_flags(cpu, requested, expected):
    chosen, reason = resolve_precision(requested, CPU, cpu)
    assert chosen == expected
    if cpu is ZEN3:
        assert "emulated" in reason


def test_cuda_without_cuda_is_refused_naming_it(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceUnavailableError, match="device 'cuda' was requested"):
        resolve_device("cuda")
    assert resolve_device("auto") == CPU
    assert resolve_device("cpu") == CPU


def test_unknown_choices_are_refused():
    with pytest.raises(ValueError, match="device: expected one of"):
        resolve_device("gpu")
    with pytest.raises(ValueError, match="precision: expected one of"):
        resolve_precision("fp16", CPU, ZEN3)


def test_resolved_hardware_maps_to_clip_dtype():
    hardware = resolve_hardware("cpu", "auto", SAPPHIRE_RAPIDS)
    assert hardware.precision == "bf16" and hardware.clip_dtype == "bfloat16"
    assert "amx_bf16" in hardware.describe()
    assert resolve_hardware("cpu", "fp32", SAPPHIRE_RAPIDS).clip_dtype == "float32"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("device", "gpu", "device: expected one of"),
        ("precision", "fp16", "precision: expected one of"),
        ("clip_tiles", (3,), "clip_tiles: expected"),
        ("clip_tiles", (0, 4), "clip_tiles: expected"),
        ("clip_tiles", (3, 40), "clip_tiles: expected"),
    ],
)
def test_inference_config_validates_device_precision_tiles(field, value, message):
    with pytest.raises(ValueError, match=message):
        InferenceConfig(**{field: value})
    assert InferenceConfig().clip_tiles == (3, 4)
