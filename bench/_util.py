"""Timing helpers for the benchmarks: best of N wall-clock runs."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_of(runs: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def report(name: str, measured: float, baseline: float, baseline_name: str) -> None:
    print(f"{name}: {measured:.3f} s; {baseline_name}: {baseline:.3f} s; ratio {measured / baseline:.2f}x")
