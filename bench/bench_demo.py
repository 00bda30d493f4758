"""The demo city generator against the cost of merely writing as many rows of random numbers to Parquet:
the ratio is what realism (Faker pools, check digits, referential links) adds over raw Arrow I/O."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench._util import best_of, report
from shengjing.demo.generator import generate_city

PERSONS = 200_000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "city"
        manifest = generate_city(out, persons=PERSONS, seed=1)
        measured = best_of(2, lambda: generate_city(out, persons=PERSONS, seed=1))
        rng = np.random.default_rng(1)

        def raw() -> None:
            for table in manifest.tables:
                columns = len(pq.read_schema(table.path))
                data = {f"c{i}": rng.integers(0, 10**12, table.rows) for i in range(columns)}
                pq.write_table(pa.table(data), Path(tmp) / f"raw-{table.name}.parquet")

        baseline = best_of(2, raw)
        rows = sum(manifest.row_counts.values())
        report(
            f"synthetic Shenyang, {PERSONS:,} persons / {rows:,} rows",
            measured,
            baseline,
            "random integers, same rows and columns",
        )
