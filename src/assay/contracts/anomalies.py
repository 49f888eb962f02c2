"""Anomaly detection on the quality history, with no cloud service: a robust baseline
(median and MAD of past values, optionally only the same weekday's) and a sensitivity.

Example:
    >>> from datetime import datetime, timedelta
    >>> t0 = datetime(2026, 1, 1)
    >>> history = [(t0 + timedelta(days=i), 100.0 + (i % 3)) for i in range(20)]
    >>> a = detect("rows", history, 160.0, t0 + timedelta(days=20))
    >>> a is not None and a.observed == 160.0
    True
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

#: Fewer past values than this give no baseline (no anomaly is reported).
MIN_HISTORY = 5
#: 1.4826 * MAD estimates the standard deviation of normally distributed values.
MAD_SCALE = 1.4826


@dataclass(frozen=True)
class Anomaly:
    """A metric outside its expected range."""

    metric: str
    observed: float
    low: float
    high: float

    def describe(self) -> str:
        return (
            f"{self.metric} = {self.observed:g} is outside the expected range "
            f"[{self.low:g}, {self.high:g}]"
        )


def detect(
    metric: str,
    history: Sequence[tuple[datetime, float]],
    observed: float,
    at: datetime,
    sensitivity: float = 3.5,
    seasonal: bool = False,
) -> Anomaly | None:
    """Compare `observed` with past values of the metric; None when it looks normal.

    `sensitivity` is how many robust standard deviations away counts as anomalous;
    `seasonal` compares only with values measured on the same weekday.
    """
    values = [v for t, v in history if not seasonal or t.weekday() == at.weekday()]
    if len(values) < MIN_HISTORY:
        return None
    median = statistics.median(values)
    mad = statistics.median(abs(v - median) for v in values)
    # A perfectly steady history (MAD 0) still tolerates a sliver of noise.
    spread = max(MAD_SCALE * mad, 1e-9 + abs(median) * 0.01)
    low, high = median - sensitivity * spread, median + sensitivity * spread
    if low <= observed <= high:
        return None
    return Anomaly(metric, observed, low, high)


#: Metrics watched for anomalies: volume, freshness, null rates and means.
def watched(metric: str) -> bool:
    return metric == "rows" or metric == "freshness_lag" or metric.endswith((".null_rate", ".mean"))
