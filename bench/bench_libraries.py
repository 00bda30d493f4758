"""The population base library against Splink alone, on the same noisy records, in the same run.

The demo generator writes ``BENCH_LIBRARY_PERSONS`` persons (470,000 by default: about a million records) as the
four departments hold them: the household register, social insurance, clinic registrations (some patients twice)
and school rolls, about 5 % of the records without a valid ID, with typos in names, wrong birth dates, changed
phones and moved addresses, and the truth (which person each record is) kept aside.

- **Baselines**: Splink deduplicates every record on DuckDB, u by random sampling, m by EM, then predictions and
  clusters at the library's threshold, with the library's blocking rules and either
  - *plain*: exact-match comparisons of the same attributes (the plain model the target is set against), or
  - *same model*: the library's own comparisons (edit distances on names, dates, addresses and IDs).
- **Library**: ``BaseLibraryPipeline`` builds the population library from the same files on DuckDB: staging,
  exact links on valid IDs, Splink only for what is left, clusters, golden records by survivorship, lineage of
  every attribute and the conflicts, all written as Parquet.

Each runs in a process of its own (peak RSS is that process's). Both are scored against the truth: pairwise
precision and recall over every pair of records put in one cluster. Targets: the library in no more time than the
baseline, precision ≥ 0.999, recall ≥ 0.995, peak memory under 3 GB.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench._util import timed

PERSONS = int(os.environ.get("BENCH_LIBRARY_PERSONS", "470000"))
SEED = 2024
PERSON_TABLES = ("person", "insured_person", "patient", "student")
DECLARATIONS = Path(__file__).parents[1] / "src" / "shengjing" / "demo" / "declarations"
TABLE_OF_RESOURCE = {
    "SY-GA-PERSON": "person",
    "SY-RS-INSURED-PERSON": "insured_person",
    "SY-WJ-PATIENT": "patient",
    "SY-JY-STUDENT": "student",
}


def _spec():  # type: ignore[no-untyped-def]
    from shengjing.libraries.spec import parse_library, parse_model

    spec = parse_library((DECLARATIONS / "library-population.yaml").read_text("utf-8"))
    model = parse_model((DECLARATIONS / "model-population.yaml").read_text("utf-8"))
    return spec, model.entity(spec.entity)


def _scores(connection, clusters_sql: str, city: Path) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Pairwise precision and recall of (table, record_id, cluster) rows against the generator's truth."""
    truth = city / "truth_persons.parquet"
    row = connection.sql(
        f"""WITH c AS ({clusters_sql}),
        j AS (SELECT c.cluster, t.id_number AS truth FROM c JOIN read_parquet('{truth}') AS t
              ON t."table" = c."table" AND t.record_id = c.record_id),
        pairs AS (SELECT (SELECT sum(k * (k - 1) / 2) FROM (SELECT count(*) AS k FROM j GROUP BY cluster)) AS predicted,
                         (SELECT sum(k * (k - 1) / 2) FROM (SELECT count(*) AS k FROM j GROUP BY truth)) AS actual,
                         (SELECT sum(k * (k - 1) / 2) FROM (SELECT count(*) AS k FROM j GROUP BY cluster, truth))
                           AS hits,
                         (SELECT count(*) FROM j) AS records)
        SELECT hits / predicted AS precision, hits / actual AS recall, records FROM pairs"""
    ).fetchall()[0]
    return {"precision": float(row[0]), "recall": float(row[1]), "scored_records": int(row[2])}


def run_library(city: Path) -> dict[str, object]:
    import duckdb

    from shengjing.libraries.engines import DuckDBRunner
    from shengjing.libraries.linkage import BaseLibraryPipeline, Outputs, SourceInput

    spec, entity = _spec()
    with tempfile.TemporaryDirectory(dir=city.parent) as out:
        outputs = Outputs(*(Path(out) / n for n in ("golden", "members", "lineage", "conflicts")))
        for path in (outputs.golden, outputs.members, outputs.lineage, outputs.conflicts):
            path.mkdir()
        started = time.perf_counter()
        runner = DuckDBRunner(memory="2.5GB", spill_dir=Path(out))
        pipeline = BaseLibraryPipeline(spec, entity, runner)
        sources = [SourceInput(r, 1, (city / f"{TABLE_OF_RESOURCE[r]}.parquet",)) for r in spec.inputs]
        rows = pipeline.run(sources, outputs)
        runner.close()
        seconds = time.perf_counter() - started
        names = ", ".join(f"('{r}', '{t}')" for r, t in TABLE_OF_RESOURCE.items())
        scores = _scores(
            duckdb.connect(),
            f'SELECT t AS "table", m.record_key AS record_id, m.person_key AS cluster '
            f"FROM read_parquet('{outputs.members}/*.parquet') AS m JOIN (VALUES {names}) AS v(r, t) ON v.r = m.source",
            city,
        )
    stats = {k: v for k, v in vars(pipeline.stats).items() if k != "model"}
    return {"seconds": seconds, "rows": rows, **scores, "stats": json.loads(json.dumps(stats, default=int))}


def run_splink(city: Path, model: str) -> dict[str, object]:
    import duckdb
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    from shengjing.libraries.linkage import _splink_comparison

    spec, _ = _spec()
    started = time.perf_counter()
    connection = duckdb.connect(config={"memory_limit": "2.5GB"})
    columns = ", ".join(
        f'CAST("{a}" AS VARCHAR) AS "{a}"' for a in ("id_number", "name", "sex", "birth_date", "mobile", "address")
    )
    union = " UNION ALL ".join(
        f"SELECT '{t}' AS \"table\", CAST({'id_number' if t == 'person' else 'record_id'} AS VARCHAR) AS record_id, "
        + columns.replace('CAST("mobile"', "CAST(NULL" if t == "student" else 'CAST("mobile"')
        + f" FROM read_parquet('{city / (t + '.parquet')}')"
        for t in PERSON_TABLES
    )
    connection.execute(f"CREATE TABLE records AS SELECT \"table\" || ':' || record_id AS unique_id, * FROM ({union})")
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.ExactMatch(c.attribute) if model == "plain" else _splink_comparison(cl, c)
            for c in spec.linking.comparisons
        ],
        blocking_rules_to_generate_predictions=[block_on(*rule) for rule in spec.linking.blocking],
        retain_matching_columns=False,
    )
    api = DuckDBAPI(connection)
    linker = Linker(api.register("records"), settings, log_level=40)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("birth_date"))
    predictions = linker.inference.predict(threshold_match_probability=spec.linking.threshold)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, spec.linking.threshold)
    connection.execute(f"CREATE TABLE clusters AS SELECT unique_id, cluster_id FROM {clusters.physical_name}")
    seconds = time.perf_counter() - started
    scores = _scores(
        connection,
        "SELECT split_part(unique_id, ':', 1) AS \"table\", split_part(unique_id, ':', 2) AS record_id, "
        "cluster_id AS cluster FROM clusters",
        city,
    )
    return {"seconds": seconds, **scores}


def main() -> None:
    from shengjing.demo.generator import generate_city

    with tempfile.TemporaryDirectory(prefix="bench-libraries-") as scratch:
        city = Path(scratch) / "city"
        started = time.perf_counter()
        manifest = generate_city(city, persons=PERSONS, seed=SEED, tables=set(PERSON_TABLES))
        records = sum(manifest.row_counts[t] for t in PERSON_TABLES)
        print(
            f"{PERSONS:,} persons, {records:,} records in 4 sources, generated in {time.perf_counter() - started:.1f}s"
        )
        results = {}
        for kind in ("plain", "same-model", "library"):
            run = timed([sys.executable, "-m", "bench.bench_libraries", kind, str(city)], cwd=Path(__file__).parents[1])
            results[kind] = {**json.loads(run.stdout.strip().splitlines()[-1]), "peak_rss": run.peak_rss}
        for kind, result in results.items():
            print(
                f"{kind:>10}: {result['seconds']:.2f} s, peak RSS {result['peak_rss'] / 2**30:.2f} GB, "
                f"pairwise precision {result['precision']:.5f}, recall {result['recall']:.5f}"
            )
        library = results["library"]
        print(f"library steps (s): {library['stats']['seconds']}")
        print(
            "library records: {records:,}; valid IDs {identifier_valid:,}; linked probabilistically "
            "{linked_probabilistically:,}; grouped {grouped_without_identifier:,}; unmatched {unmatched:,}; "
            "clusters {clusters:,}; candidate pairs {candidate_pairs:,}".format(**library["stats"])
        )
        for baseline in ("plain", "same-model"):
            ratio = library["seconds"] / results[baseline]["seconds"]
            print(f"population library vs Splink dedupe alone ({baseline}): ratio {ratio:.2f}x (target ≤ 1.00)")


if __name__ == "__main__" and len(sys.argv) == 3:
    kind = sys.argv[1]
    result = run_library(Path(sys.argv[2])) if kind == "library" else run_splink(Path(sys.argv[2]), kind)
    print(json.dumps(result, default=str))
