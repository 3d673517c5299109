"""Which device and precision the policy runs in, decided from what this machine has.

`device`: cpu | cuda | auto (CUDA when torch sees a device, else the CPU). Asking for cuda where
torch has none is an error, never a silent fallback: a cell configured for a GPU that runs on
its CPU would miss every time budget without saying why.

`precision`: fp32 | bf16 | auto. bf16 runs CLIP (nearly all the compute of a2 mode) with
bfloat16 weights and activations; its features come back as float32. auto picks bf16 only where
the hardware multiplies bf16 natively: a CUDA device with bf16 support, or a CPU with AMX-BF16 or
AVX512-BF16 (read from the CPU's flags, /proc/cpuinfo; never guessed from its model name). On
other CPUs torch emulates bf16 and it is several times *slower* than fp32 (6x measured on an
AVX2-only EPYC), so auto keeps fp32 there. fp32 stays available for reproducible comparisons.
The fusion network and GraspNet always run in fp32: they take milliseconds to a few hundred
milliseconds, and GraspNet's point queries compare millimetre distances that bf16's 8-bit
mantissa cannot resolve.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it is used: configs import this module cheaply
    import torch

DEVICES = ("cpu", "cuda", "auto")
PRECISIONS = ("fp32", "bf16", "auto")
# CPU flags (Linux /proc/cpuinfo names) under which bf16 matrix products run natively.
NATIVE_BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
# Flags worth recording next to a benchmark: what decides the kernels torch and oneDNN pick.
RELEVANT_CPU_FLAGS = (
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
)
CPUINFO_PATH = Path("/proc/cpuinfo")


class DeviceUnavailableError(ValueError):
    """The configured device does not exist on this machine (e.g. cuda without CUDA)."""


@dataclass(frozen=True)
class CpuInfo:
    """What /proc/cpuinfo says about the first CPU (empty where it is not readable)."""

    model_name: str = ""
    vendor: str = ""
    family: str = ""
    model: str = ""
    flags: frozenset[str] = field(default_factory=frozenset)

    @property
    def native_bf16(self) -> bool:
        return any(flag in self.flags for flag in NATIVE_BF16_CPU_FLAGS)

    def relevant_flags(self) -> list[str]:
        return [flag for flag in RELEVANT_CPU_FLAGS if flag in self.flags]

    def describe(self) -> str:
        """e.g. 'AMD EPYC (family 25 model 17; avx2 fma avx512f ... avx512_bf16)'."""
        name = self.model_name or "unknown CPU"
        ident = f"family {self.family} model {self.model}; " if self.family else ""
        return f"{name} ({ident}{' '.join(self.relevant_flags()) or 'no SIMD flags read'})"


def parse_cpuinfo(text: str) -> CpuInfo:
    """CpuInfo from the text of /proc/cpuinfo (its first processor block)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if values:
                break  # end of the first processor block
            continue
        key, _, value = line.partition(":")
        values.setdefault(key.strip(), value.strip())
    return CpuInfo(
        model_name=values.get("model name", ""),
        vendor=values.get("vendor_id", ""),
        family=values.get("cpu family", ""),
        model=values.get("model", ""),
        flags=frozenset(values.get("flags", "").split()),
    )


def read_cpu_info(path: Path = CPUINFO_PATH) -> CpuInfo:
    try:
        return parse_cpuinfo(path.read_text())
    except OSError:
        return CpuInfo()


@dataclass(frozen=True)
class InferenceHardware:
    """The resolved choice: where the policy runs, in which precision, and why."""

    device: torch.device
    precision: str  # "fp32" or "bf16"
    reason: str
    cpu: CpuInfo

    @property
    def clip_dtype(self) -> str:
        """ClipFeatureConfig.dtype for this precision."""
        return "bfloat16" if self.precision == "bf16" else "float32"

    def describe(self) -> str:
        import torch

        where = str(self.device)
        if self.device.type == "cuda":
            where += f" ({torch.cuda.get_device_name(self.device)})"
        return f"device {where}, precision {self.precision}: {self.reason}"


def check_choice(name: str, value: str, allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name}: expected one of {allowed}, got {value!r}")


def resolve_device(requested: str) -> torch.device:
    """cpu | cuda | auto -> a torch device; cuda without CUDA raises DeviceUnavailableError."""
    import torch

    check_choice("device", requested, DEVICES)
    if requested == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    if requested == "auto":
        return torch.device("cpu")
    build = f"a CUDA {torch.version.cuda} build" if torch.version.cuda else "a CPU-only build"
    raise DeviceUnavailableError(
        f"device 'cuda' was requested but torch sees no CUDA device (torch {torch.__version__}, "
        f"{build}); set device to 'cpu' or 'auto', or install a CUDA build of torch on a "
        "machine with an NVIDIA GPU (see the README)"
    )


def resolve_precision(requested: str, device: torch.device, cpu: CpuInfo) -> tuple[str, str]:
    """fp32 | bf16 | auto -> ("fp32" or "bf16", why)."""
    import torch

    check_choice("precision", requested, PRECISIONS)
    if device.type == "cuda":
        native = bool(torch.cuda.is_bf16_supported())
        hardware = f"CUDA device {'with' if native else 'without'} native bf16"
    else:
        native = cpu.native_bf16
        found = [flag for flag in NATIVE_BF16_CPU_FLAGS if flag in cpu.flags]
        hardware = (
            f"CPU with {' and '.join(found)}"
            if found
            else "CPU without AMX-BF16 / AVX512-BF16 (bf16 emulated, slower than fp32)"
        )
    if requested == "fp32":
        return "fp32", f"fp32 as configured ({hardware})"
    if requested == "bf16":
        return "bf16", f"bf16 as configured ({hardware})"
    if native:
        return "bf16", f"auto: bf16, native on this {hardware}"
    return "fp32", f"auto: fp32, bf16 is not native on this {hardware}"


def resolve_hardware(device: str, precision: str, cpu: CpuInfo | None = None) -> InferenceHardware:
    """Both choices at once (raises DeviceUnavailableError / ValueError on a bad one)."""
    cpu = read_cpu_info() if cpu is None else cpu
    resolved = resolve_device(device)
    chosen, reason = resolve_precision(precision, resolved, cpu)
    return InferenceHardware(resolved, chosen, reason, cpu)
