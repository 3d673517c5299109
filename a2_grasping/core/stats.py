"""Rolling statistics reported in diagnostics (latency percentiles, event counts)."""

from __future__ import annotations

from collections import Counter, deque

import numpy as np


class RollingPercentiles:
    """Percentiles over the last `window` samples: recent behaviour, bounded memory."""

    def __init__(self, window: int = 200) -> None:
        self._samples: deque[float] = deque(maxlen=window)

    def add(self, value: float) -> None:
        self._samples.append(value)

    def __len__(self) -> int:
        return len(self._samples)

    def percentile(self, q: float) -> float:
        """The q-th percentile (0-100); NaN before the first sample."""
        if not self._samples:
            return float("nan")
        return float(np.percentile(np.fromiter(self._samples, dtype=np.float64), q))


class EventCounts(Counter[str]):
    """Counts per event name (error codes, rejection reasons) since start-up."""

    def summary(self) -> str:
        return ", ".join(f"{name}={count}" for name, count in sorted(self.items())) or "none"
