"""Timing helpers for the benchmarks: best of N wall-clock runs, and one command measured in a process of its own."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def best_of(runs: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def report(name: str, measured: float, baseline: float, baseline_name: str) -> None:
    print(f"{name}: {measured:.3f} s; {baseline_name}: {baseline:.3f} s; ratio {measured / baseline:.2f}x")


@dataclass(frozen=True)
class Timed:
    seconds: float  # wall
    cpu: float  # user + system of that one process
    peak_rss: int  # bytes
    stdout: str


def timed(command: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> Timed:
    """Run a command to its end and measure it.

    The peak RSS is the child's own ``VmHWM``, read while it runs: the ``ru_maxrss`` that ``wait4`` reports also
    counts the parent's memory at the fork (Linux carries the old address space's high-water mark across exec), so
    a benchmark that has just generated a gigabyte of data would see every child as that large."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=cwd)
        peak = 0
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, _high_water(process.pid))
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise RuntimeError(f"{command[:3]} failed: {err.read().decode(errors='replace')[-2000:]}")
        return Timed(seconds, usage.ru_utime + usage.ru_stime, peak, out.read().decode())


def _high_water(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass  # it has just ended
    return 0


LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def throwaway_postgres(prefix: str) -> Iterator[str | None]:
    """A fresh database named ``prefix`` + a random suffix on the configured PostgreSQL
    (``SHENGJING_BENCH_POSTGRES_URL``, else ``SHENGJING_TEST_POSTGRES_URL``, else the local test server), dropped
    afterwards; None if none answers (the SQLite figures then stand alone)."""
    from sqlalchemy import create_engine, make_url, text

    server = os.environ.get("SHENGJING_BENCH_POSTGRES_URL") or os.environ.get(
        "SHENGJING_TEST_POSTGRES_URL", LOCAL_POSTGRES
    )
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server
        print(f"  postgresql: skipped ({type(exc).__name__})")
        admin.dispose()
        yield None
        return
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
