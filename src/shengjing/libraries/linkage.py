"""A base library's pipeline: the same person (or enterprise) across departments, merged into golden records.

1. **Stage.** Every source's records, in the library's attributes, cleaned as declared, each with its source,
   snapshot and record key, its trust rank, and whether its identifier passes its check (GB 11643, GB 32100).
2. **Exact links.** Records with a valid identifier are one cluster per identifier. Most records end here,
   and nothing probabilistic touches them: that is what makes the library faster than deduplicating
   everything with Splink.
3. **Probabilistic links.** Only the rest (no identifier, or one that fails its check) go to Splink, linked
   against every record. The model is trained without EM and without randomness, so DuckDB and Spark agree:
   m from the exact clusters (records sharing a valid identifier are labelled matches), u from every pair of
   a fixed sample (chosen by hash), the prior from the exact clusters' sizes.
4. **Clusters.** A remaining record joins the cluster of its best match above the threshold; those with no
   such match are grouped among themselves (connected components, by label propagation in SQL).
5. **Golden records.** Each attribute by its survivorship rule, with the record it came from (lineage), and
   the conflicts: clusters whose sources disagree on a declared attribute.

Every step is SQL in DuckDB's dialect (rendered for Spark by the runner); rows never pass through Python.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shengjing.errors import InvalidInput
from shengjing.libraries.checks import is_valid
from shengjing.libraries.engines import Runner
from shengjing.libraries.spec import (
    AttributeType,
    BaseLibrarySpec,
    Cleaning,
    Comparison,
    ComparisonKind,
    Entity,
    Survivorship,
)

log = logging.getLogger(__name__)

_SQL_TYPES = {
    AttributeType.STRING: "VARCHAR",
    AttributeType.INTEGER: "BIGINT",
    AttributeType.DECIMAL: "DECIMAL(18, 2)",
    AttributeType.DATE: "DATE",
    AttributeType.TIMESTAMP: "TIMESTAMP",
    AttributeType.BOOLEAN: "BOOLEAN",
}
_CLEANING = {
    Cleaning.TRIM: "TRIM({})",
    Cleaning.REMOVE_SPACES: "REPLACE(REPLACE({}, ' ', ''), '\u3000', '')",
    Cleaning.UPPER: "UPPER({})",
    Cleaning.ASCII_PARENTHESES: "REPLACE(REPLACE({}, '(', '（'), ')', '）')",
}
_MAX_PROPAGATION_ROUNDS = 64
# Probabilities below these are raised to them: a level no labelled pair (or no sampled pair) fell in would
# otherwise weigh minus (or plus) infinity.
_M_FLOOR, _U_FLOOR = 1e-4, 1e-7


@dataclass(frozen=True)
class SourceInput:
    resource: str
    version: int
    files: tuple[Path, ...]


@dataclass
class BuildStats:
    records: int = 0
    records_by_source: dict[str, int] = field(default_factory=dict)
    identifier_valid: int = 0
    linked_exactly: int = 0
    linked_probabilistically: int = 0
    grouped_without_identifier: int = 0
    unmatched: int = 0
    clusters: int = 0
    conflicts: int = 0
    candidate_pairs: int = 0
    propagation_rounds: int = 0
    kept: int = 0  # a refresh: records whose links were kept from the previous build
    seconds: dict[str, float] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outputs:
    """Where each output table goes: a staging directory per table (the caller commits them as snapshots)."""

    golden: Path
    members: Path
    lineage: Path
    conflicts: Path


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class BaseLibraryPipeline:
    def __init__(self, spec: BaseLibrarySpec, entity: Entity, runner: Runner) -> None:
        self.spec = spec
        self.types = {a.name: a.type for a in entity.attributes}
        missing = [a for a in spec.attributes if a not in self.types]
        if missing:
            raise ValueError(f"the model's entity has no attribute {missing}")
        self.runner = runner
        self.stats = BuildStats()
        self.key = entity.key  # the golden record's key: its cluster's hash

    @contextmanager
    def _step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.stats.seconds[name] = round(time.perf_counter() - started, 3)
        log.info("library %s: %s in %.2fs", self.spec.code, name, self.stats.seconds[name])

    def _count(self, sql: str) -> int:
        return int(self.runner.fetch(f"SELECT count(*) AS n FROM ({sql}) AS counted").column(0)[0].as_py())

    # --- 1. stage -------------------------------------------------------------------------------------------

    def _cleaned(self, attribute: str, expression: str) -> str:
        for step in self.spec.cleaning.get(attribute, []):
            expression = _CLEANING[step].format(expression)
        return expression

    def _stage_sql(self, index: int, source: SourceInput) -> str:
        declared = next(s for s in self.spec.sources if s.resource == source.resource)
        columns = []
        for attribute in self.spec.attributes:
            sql_type = _SQL_TYPES[self.types[attribute]]
            column = declared.columns.get(attribute)
            if column is not None:
                value = f"CAST({_q(column)} AS {sql_type})"
            elif attribute in declared.constants:
                value = f"CAST({_lit(declared.constants[attribute])} AS {sql_type})"
            else:
                value = f"CAST(NULL AS {sql_type})"
            if column is not None and self.types[attribute] is AttributeType.STRING:
                value = f"NULLIF({self._cleaned(attribute, value)}, '')"
            columns.append(f"{value} AS {_q(attribute)}")
        updated = f"CAST({_q(declared.updated_at)} AS TIMESTAMP)" if declared.updated_at else "CAST(NULL AS TIMESTAMP)"
        return (
            f"SELECT {_lit(source.resource)} AS source, {source.version} AS snapshot, {declared.trust} AS trust, "
            f"CAST({_q(declared.record_key)} AS VARCHAR) AS record_key, {', '.join(columns)}, {updated} AS updated_at "
            f"FROM {_q(f'source_{index}')}"
        )

    def _record_hash(self) -> str:
        """What a refresh compares to tell a changed record from an unchanged one: its cleaned attributes."""
        values = ", ".join(f"coalesce(CAST({_q(a)} AS VARCHAR), '\u2400')" for a in self.spec.attributes)
        return f"md5(concat_ws('\u241f', {values}))"

    def stage(self, sources: Sequence[SourceInput]) -> None:
        with self._step("stage"):
            for index, source in enumerate(sources):
                self.runner.register(f"source_{index}", source.files)
            union = " UNION ALL ".join(self._stage_sql(i, s) for i, s in enumerate(sources))
            identifier = _q(self.spec.linking.identifier)
            self.runner.materialize(
                "records",
                f"SELECT source || ':' || record_key AS uid, *, "
                f"{is_valid(self.spec.linking.check, identifier, self.spec.linking.pattern)} AS valid, "
                f"{self._record_hash()} AS record_hash FROM ({union}) AS staged",
            )
            counts = self.runner.fetch(
                "SELECT source, count(*) AS n, count(DISTINCT record_key) AS keys, "
                "sum(CASE WHEN valid THEN 1 ELSE 0 END) AS valid FROM records GROUP BY source ORDER BY source"
            ).to_pylist()
            for row in counts:
                if row["n"] != row["keys"]:
                    raise DuplicateRecordKey(row["source"], row["n"] - row["keys"])
                self.stats.records_by_source[row["source"]] = row["n"]
            self.stats.records = sum(r["n"] for r in counts)
            self.stats.identifier_valid = sum(r["valid"] for r in counts)

    # --- 2. exact links --------------------------------------------------------------------------------------

    def link_exactly(self) -> None:
        with self._step("exact"):
            entity = _lit(self.spec.entity + ":")
            self.runner.materialize(
                "exact",
                f"SELECT uid, md5({entity} || {_q(self.spec.linking.identifier)}) AS cluster FROM records WHERE valid",
            )
            self.stats.linked_exactly = self.stats.identifier_valid

    # --- 3. probabilistic links ------------------------------------------------------------------------------

    def _compared(self) -> list[str]:
        names = {c.attribute for c in self.spec.linking.comparisons}
        names |= {a for rule in self.spec.linking.blocking for a in rule}
        return sorted(names)

    def _compared_value(self, attribute: str) -> str:
        value = f"CAST({_q(attribute)} AS VARCHAR)"
        normalize = next((c.normalize for c in self.spec.linking.comparisons if c.attribute == attribute), None)
        if normalize is None:
            return value
        for old, new in normalize.replace.items():
            value = f"REPLACE({value}, {_lit(old)}, {_lit(new)})"
        prefixes = sorted(normalize.strip_prefixes, key=len, reverse=True)
        if prefixes:
            cases = " ".join(
                f"WHEN SUBSTR({value}, 1, {len(p)}) = {_lit(p)} THEN SUBSTR({value}, {len(p) + 1})" for p in prefixes
            )
            value = f"CASE {cases} ELSE {value} END"
        return value

    def _comparison_input(self, where: str) -> str:
        casts = ", ".join(f"{self._compared_value(a)} AS {_q(a)}" for a in self._compared())
        return f"SELECT uid AS unique_id, {casts} FROM records WHERE {where}"

    def _settings(self, link_type: str, parameters: dict[str, Any] | None) -> dict[str, Any]:
        import splink.comparison_library as cl
        from splink import SettingsCreator, block_on

        comparisons = [_splink_comparison(cl, c) for c in self.spec.linking.comparisons]
        creator = SettingsCreator(
            link_type=link_type,
            comparisons=comparisons,
            blocking_rules_to_generate_predictions=[block_on(*rule) for rule in self.spec.linking.blocking],
            retain_matching_columns=False,
            retain_intermediate_calculation_columns=False,
        )
        settings = creator.create_settings_dict(self.runner.splink_dialect)
        if parameters is not None:
            settings["probability_two_random_records_match"] = parameters["prior"]
            for comparison, trained in zip(settings["comparisons"], parameters["comparisons"], strict=True):
                levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
                for level, values in zip(levels, trained["levels"], strict=True):
                    level["m_probability"], level["u_probability"] = values["m"], values["u"]
        for declared, comparison in zip(self.spec.linking.comparisons, settings["comparisons"], strict=True):
            levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
            for fixed, key in ((declared.fixed_m, "m"), (declared.fixed_u, "u")):
                for level, value in zip(levels, fixed or [], strict=False):
                    level[f"{key}_probability"], level[f"fix_{key}_probability"] = value, True
        return settings

    def _linker(self, tables: Sequence[str], settings: dict[str, Any]) -> Any:
        from splink import Linker

        api = self.runner.splink_api()
        frames = [api.register(name, dataset_display_name=name) for name in tables]
        return Linker(frames if len(frames) > 1 else frames[0], settings, log_level=logging.WARNING)

    def train(self) -> dict[str, Any]:
        """The model's parameters from the exact clusters and a fixed sample: no EM, no random sampling."""
        with self._step("train"):
            started = time.perf_counter()
            linking = self.spec.linking
            # The prior from every exact cluster; m from the records of a hash-chosen share of them (a few tens of
            # thousands of labelled records estimate m as well as a million do).
            sizes = self.runner.fetch(
                "SELECT sum(k * (k - 1) / 2) AS pairs, sum(k) AS n "
                "FROM (SELECT count(*) AS k FROM exact GROUP BY cluster) AS s"
            ).to_pylist()[0]
            self.runner.materialize(
                "labelled",
                f"SELECT e.cluster AS label, c.* FROM ({self._comparison_input('valid')}) AS c "
                "JOIN exact AS e ON e.uid = c.unique_id JOIN (SELECT DISTINCT cluster FROM exact "
                f"ORDER BY cluster LIMIT {linking.label_sample // 2}) AS chosen ON chosen.cluster = e.cluster",
            )
            n = int(sizes["n"] or 0)
            prior = min(max(float(sizes["pairs"] or 0) / max(n * (n - 1) / 2, 1), 1e-9), 0.5)
            linker = self._linker(["labelled"], self._settings("dedupe_only", None))
            linker.training.estimate_m_from_label_column("label")
            self.stats.seconds["train_m"] = round(time.perf_counter() - started, 3)
            m_model = linker.misc.save_model_to_json()
            # u is what non-matching pairs look like: so one record per identifier (two records of one cluster
            # are a match), chosen by hash, not by chance.
            self.runner.materialize(
                "u_sample",
                "SELECT c.* FROM labelled AS c "
                "QUALIFY row_number() OVER (PARTITION BY label ORDER BY md5(unique_id)) = 1 "
                f"ORDER BY md5(unique_id) LIMIT {linking.training_sample}",
            )
            sample = min(linking.training_sample, self.stats.records)  # at most
            linker = self._linker(["u_sample"], self._settings("dedupe_only", None))
            # max_pairs at least every pair of the sample: Splink then takes all of them, not a random share.
            linker.training.estimate_u_using_random_sampling(
                max_pairs=sample * sample, seed=1, min_count_per_level=None, num_chunks=1
            )
            u_model = linker.misc.save_model_to_json()
            parameters = {"prior": prior, "comparisons": []}
            for declared, with_m, with_u in zip(
                linking.comparisons, m_model["comparisons"], u_model["comparisons"], strict=True
            ):
                levels = []
                for level_m, level_u in zip(with_m["comparison_levels"], with_u["comparison_levels"], strict=True):
                    if level_m.get("is_null_level"):
                        continue
                    levels.append(
                        {
                            "label": level_m.get("label_for_charts", ""),
                            "m": max(float(level_m.get("m_probability") or 0.0), _M_FLOOR),
                            "u": max(float(level_u.get("u_probability") or 0.0), _U_FLOOR),
                        }
                    )
                parameters["comparisons"].append({"attribute": declared.attribute, "levels": levels})
            self.stats.model = parameters
            for name in ("labelled", "u_sample"):
                self.runner.drop(name)
            return parameters

    def link_probabilistically(self, parameters: dict[str, Any], remaining: str = "NOT valid") -> None:
        """Link the records that ``remaining`` selects (by default every record without a valid identifier)."""
        with self._step("probabilistic"):
            self.runner.materialize("remaining", self._comparison_input(remaining))
            self.runner.materialize("everyone", self._comparison_input("TRUE"))
            linker = self._linker(["remaining", "everyone"], self._settings("link_only", parameters))
            predictions = linker.inference.predict(threshold_match_probability=self.spec.linking.threshold)
            self.runner.materialize(
                "pairs",
                # Splink orders a pair's sides by dataset name: the remaining record may be on either side.
                "SELECT o.uid, o.other, o.probability, e.cluster AS other_cluster FROM (SELECT "
                "CASE WHEN p.source_dataset_l = 'remaining' THEN p.unique_id_l ELSE p.unique_id_r END AS uid, "
                "CASE WHEN p.source_dataset_l = 'remaining' THEN p.unique_id_r ELSE p.unique_id_l END AS other, "
                f"p.match_probability AS probability FROM {predictions.physical_name} AS p "
                "WHERE p.unique_id_l <> p.unique_id_r) AS o LEFT JOIN exact AS e ON e.uid = o.other",
            )
            predictions.drop_table_from_database_and_remove_from_cache()
            self.stats.candidate_pairs = self._count("SELECT 1 FROM pairs")
            for name in ("remaining", "everyone"):
                self.runner.drop(name)

    # --- 4. clusters -------------------------------------------------------------------------------------------

    def cluster(self, kept: bool = False) -> None:
        """Clusters of the remaining records; with ``kept``, the records a refresh did not relink keep theirs."""
        with self._step("cluster"):
            self.runner.materialize(
                "assigned",
                "SELECT uid, other_cluster AS cluster, probability FROM pairs WHERE other_cluster IS NOT NULL "
                "QUALIFY row_number() OVER (PARTITION BY uid ORDER BY probability DESC, other_cluster) = 1",
            )
            self.runner.materialize(
                "labels_0",
                "SELECT r.uid, r.uid AS label FROM records AS r LEFT JOIN assigned AS a ON a.uid = r.uid "
                + ("LEFT JOIN kept AS k ON k.uid = r.uid WHERE k.uid IS NULL AND " if kept else "WHERE ")
                + "NOT r.valid AND a.uid IS NULL",
            )
            self.runner.materialize(
                "edges",
                "SELECT p.uid AS a, p.other AS b, p.probability FROM pairs AS p "
                "JOIN labels_0 AS x ON x.uid = p.uid JOIN labels_0 AS y ON y.uid = p.other",
            )
            rounds = 0
            while rounds < _MAX_PROPAGATION_ROUNDS:
                current, following = f"labels_{rounds}", f"labels_{rounds + 1}"
                self.runner.materialize(
                    following,
                    f"SELECT l.uid, least(l.label, coalesce(min(n.label), l.label)) AS label FROM {current} AS l "
                    f"LEFT JOIN (SELECT e.a AS uid, y.label FROM edges AS e JOIN {current} AS y ON y.uid = e.b "
                    f"UNION ALL SELECT e.b AS uid, x.label FROM edges AS e JOIN {current} AS x ON x.uid = e.a) AS n "
                    "ON n.uid = l.uid GROUP BY l.uid, l.label",
                )
                changed = self._count(
                    f"SELECT 1 FROM {current} AS a JOIN {following} AS b ON a.uid = b.uid WHERE a.label <> b.label"
                )
                self.runner.drop(current)
                rounds += 1
                if changed == 0:
                    break
            self.stats.propagation_rounds = rounds
            entity = _lit(self.spec.entity + ":~")  # "~": a grouped cluster's key never equals an identifier's
            self.runner.materialize(
                "members",
                "SELECT r.uid, r.source, r.snapshot, r.record_key, r.record_hash, "
                f"coalesce(e.cluster, {'k.cluster, ' if kept else ''}a.cluster, md5({entity} || g.label)) AS cluster, "
                "CASE WHEN e.uid IS NOT NULL THEN 'identifier' "
                + ("WHEN k.uid IS NOT NULL THEN k.method " if kept else "")
                + "WHEN a.uid IS NOT NULL THEN 'probabilistic' WHEN g.size > 1 THEN 'grouped' ELSE 'unmatched' END "
                "AS method, CASE WHEN e.uid IS NOT NULL THEN 1.0 "
                + ("WHEN k.uid IS NOT NULL THEN k.probability " if kept else "")
                + "ELSE a.probability END AS probability "
                "FROM records AS r LEFT JOIN exact AS e ON e.uid = r.uid LEFT JOIN assigned AS a ON a.uid = r.uid "
                + ("LEFT JOIN kept AS k ON k.uid = r.uid " if kept else "")
                + f"LEFT JOIN (SELECT uid, label, count(*) OVER (PARTITION BY label) AS size FROM labels_{rounds}) "
                "AS g ON g.uid = r.uid",
            )
            counts = {
                row["method"]: row["n"]
                for row in self.runner.fetch("SELECT method, count(*) AS n FROM members GROUP BY method").to_pylist()
            }
            self.stats.linked_probabilistically = counts.get("probabilistic", 0)
            self.stats.grouped_without_identifier = counts.get("grouped", 0)
            self.stats.unmatched = counts.get("unmatched", 0)
            self.stats.clusters = self._count("SELECT DISTINCT cluster FROM members")

    def cluster_without_remaining(self) -> None:
        """Every record had a valid identifier: the exact clusters are the clusters."""
        self.runner.materialize(
            "members",
            "SELECT r.uid, r.source, r.snapshot, r.record_key, r.record_hash, e.cluster, 'identifier' AS method, "
            "1.0 AS probability "
            "FROM records AS r JOIN exact AS e ON e.uid = r.uid",
        )
        self.stats.clusters = self._count("SELECT DISTINCT cluster FROM members")

    # --- 5. golden records, lineage, conflicts -------------------------------------------------------------

    def _order_key(self, attribute: str, rule: Survivorship) -> str:
        """A struct that orders the records of a cluster by the rule, best greatest, and is unique (the record's
        uid ends it), so that the choice is the same on every engine. NULL where the value cannot survive."""
        trust = "9 - r.trust"
        updated = "coalesce(r.updated_at, CAST('1900-01-01 00:00:00' AS TIMESTAMP))"
        length = f"length(CAST(r.{_q(attribute)} AS VARCHAR))"
        parts = {
            Survivorship.MOST_TRUSTED: [trust, updated],
            Survivorship.MOST_RECENT: [updated, trust],
            Survivorship.MOST_COMPLETE: [length, trust, updated],
        }[rule]
        fields = ", ".join(f"k{i} := {part}" for i, part in enumerate([*parts, "r.uid"]))
        usable = f"r.{_q(attribute)} IS NOT NULL"
        if attribute == self.spec.linking.identifier:
            usable += " AND r.valid"  # an identifier that fails its check never survives
        return f"CASE WHEN {usable} THEN struct_pack({fields}) END"

    def golden(self) -> None:
        """One pass over the clusters' records: for each attribute, the surviving value together with where it
        came from (its lineage), picked by one arg_max."""
        with self._step("golden"):
            self.runner.materialize(
                "clustered", "SELECT m.cluster, r.* FROM members AS m JOIN records AS r ON r.uid = m.uid"
            )
            chosen = [
                f"arg_max(struct_pack(v := r.{_q(a)}, s := r.source, n := r.snapshot, k := r.record_key), "
                f"{self._order_key(a, rule)}) AS {_q(a + '__pick')}"
                for a, rule in self.spec.survivorship.items()
            ]
            self.runner.materialize(
                "golden_wide",
                f"SELECT r.cluster, {', '.join(chosen)}, count(*) AS record_count, "
                "count(DISTINCT r.source) AS source_count FROM clustered AS r GROUP BY r.cluster",
            )

    def write(self, outputs: Outputs) -> dict[str, int]:
        with self._step("write"):
            attributes = ", ".join(f"{_q(a + '__pick')}.v AS {_q(a)}" for a in self.spec.attributes)
            rows = {
                "golden": self.runner.write(
                    f"SELECT cluster AS {_q(self.key)}, {attributes}, record_count, source_count FROM golden_wide",
                    outputs.golden,
                    "golden",
                ),
                "members": self.runner.write(
                    f"SELECT cluster AS {_q(self.key)}, source, snapshot, record_key, record_hash, method, probability "
                    "FROM members",
                    outputs.members,
                    "members",
                ),
            }
            lineage = " UNION ALL ".join(
                f"SELECT cluster AS {_q(self.key)}, {_lit(a)} AS attribute, {_q(a + '__pick')}.s AS source, "
                f"{_q(a + '__pick')}.n AS snapshot, {_q(a + '__pick')}.k AS record_key, {_lit(rule.value)} AS rule "
                f"FROM golden_wide WHERE {_q(a + '__pick')} IS NOT NULL"
                for a, rule in self.spec.survivorship.items()
            )
            rows["lineage"] = self.runner.write(lineage, outputs.lineage, "lineage")
            rows["conflicts"] = self.runner.write(self._conflicts_sql(), outputs.conflicts, "conflicts")
            self.stats.conflicts = rows["conflicts"]
            return rows

    def _conflicts_sql(self) -> str:
        """One row per (cluster, attribute, record) where a cluster's records disagree on a declared attribute."""
        if not self.spec.conflicts:
            return (
                f"SELECT CAST(NULL AS VARCHAR) AS {_q(self.key)}, CAST(NULL AS VARCHAR) AS attribute, "
                "CAST(NULL AS VARCHAR) AS value, CAST(NULL AS VARCHAR) AS source, CAST(NULL AS BIGINT) AS snapshot, "
                "CAST(NULL AS VARCHAR) AS record_key, CAST(NULL AS BOOLEAN) AS chosen WHERE FALSE"
            )
        parts = []
        for attribute in self.spec.conflicts:
            column, pick = _q(attribute), _q(attribute + "__pick")
            parts.append(
                f"SELECT c.cluster AS {_q(self.key)}, {_lit(attribute)} AS attribute, "
                f"CAST(c.{column} AS VARCHAR) AS value, c.source, c.snapshot, c.record_key, "
                f"(c.{column} = g.{pick}.v) AS chosen FROM clustered AS c "
                f"JOIN (SELECT cluster FROM clustered GROUP BY cluster HAVING count(DISTINCT {column}) > 1) AS d "
                f"ON d.cluster = c.cluster JOIN golden_wide AS g ON g.cluster = c.cluster WHERE c.{column} IS NOT NULL"
            )
        return " UNION ALL ".join(parts)

    # --- the whole pipeline --------------------------------------------------------------------------------

    def run(
        self, sources: Sequence[SourceInput], outputs: Outputs, previous: PreviousBuild | None = None
    ) -> dict[str, int]:
        """Build the library; with ``previous``, refresh it: records unchanged since that build keep their links
        and the model is reused, so only new and changed records are linked."""
        self.stage(sources)
        self.link_exactly()
        if previous is not None:
            self._refresh(previous)
        elif self.stats.records == self.stats.identifier_valid:
            self.cluster_without_remaining()
        elif self.stats.identifier_valid:
            self.link_probabilistically(self.train())
            self.cluster()
        else:
            raise NothingToLearnFrom(self.spec.code)
        self.golden()
        return self.write(outputs)

    def _refresh(self, previous: PreviousBuild) -> None:
        self.runner.register("previous_members", previous.members)
        # A record keeps its cluster when neither it nor the records it was linked through changed: a record
        # without a valid identifier that was attached to an identifier's cluster, and is itself unchanged.
        self.runner.materialize(
            "kept",
            f"SELECT r.uid, p.{_q(self.key)} AS cluster, p.method, p.probability FROM records AS r "
            "JOIN previous_members AS p ON p.source || ':' || p.record_key = r.uid AND p.record_hash = r.record_hash "
            "WHERE NOT r.valid AND p.method = 'probabilistic'",
        )
        self.stats.kept = self._count("SELECT 1 FROM kept")
        self.stats.model = previous.parameters
        relinked = self._count(
            "SELECT 1 FROM records AS r LEFT JOIN kept AS k ON k.uid = r.uid WHERE NOT r.valid AND k.uid IS NULL"
        )
        if relinked:
            self.link_probabilistically(previous.parameters, "NOT valid AND uid NOT IN (SELECT uid FROM kept)")
        else:
            self.runner.materialize(
                "pairs",
                "SELECT CAST(NULL AS VARCHAR) AS uid, CAST(NULL AS VARCHAR) AS other, "
                "CAST(NULL AS DOUBLE) AS probability, CAST(NULL AS VARCHAR) AS other_cluster WHERE FALSE",
            )
        self.cluster(kept=True)
        self.runner.drop("previous_members")


@dataclass(frozen=True)
class PreviousBuild:
    """What a refresh starts from: the last build's members (with their record hashes) and its model."""

    members: tuple[Path, ...]
    parameters: dict[str, Any]


def _splink_comparison(cl: Any, declared: Comparison) -> Any:
    if declared.kind is ComparisonKind.EXACT:
        comparison = cl.ExactMatch(declared.attribute)
    elif declared.kind is ComparisonKind.LEVENSHTEIN:
        comparison = cl.LevenshteinAtThresholds(declared.attribute, [int(t) for t in declared.thresholds])
    else:
        comparison = cl.JaroWinklerAtThresholds(declared.attribute, declared.thresholds)
    if declared.term_frequency:
        comparison = comparison.configure(term_frequency_adjustments=True)
    return comparison


class DuplicateRecordKey(InvalidInput):
    def __init__(self, source: str, duplicates: int) -> None:
        super().__init__(
            f"数据资源“{source}”有 {duplicates} 条记录与其他记录的记录标识重复，无法区分来源记录；"
            "请检查声明的记录标识列。",
            f"Resource '{source}': {duplicates} records repeat another record's key, so records cannot be told apart; "
            "check the declared record key column.",
            resource=source,
            duplicates=duplicates,
        )


class NothingToLearnFrom(InvalidInput):
    def __init__(self, library: str) -> None:
        super().__init__(
            f"基础库“{library}”的来源记录都没有有效标识，概率匹配模型没有可学习的已知匹配。",
            f"Library '{library}': no source record has a valid identifier, so the linking model has no known matches "
            "to learn from.",
            library=library,
        )
