"""``make bench``: run every ``bench/bench_*.py``. Each prints its figures and a ratio against a baseline
measured in the same run, because absolute times on a shared 2-core machine mean little."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def main() -> None:
    names = sys.argv[1:] or sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    for name in names:
        print(f"== {name}", flush=True)
        importlib.import_module(f"bench.{name}").main()


main()
