"""What the rewriter counts to suppress small groups: every join column's distinct values, except where a count cannot
differ from another (an identifying column read with no join, the two sides of an inner join's equality)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlglot import exp

from shengjing.sandbox import checker
from shengjing.sandbox.policy import Policy
from shengjing.sandbox.rewriter import rewrite
from tests.sandbox.test_redteam import POLICY

NOT_IDENTIFYING = replace(
    POLICY, tables={**POLICY.tables, "person": replace(POLICY.tables["person"], identifying=frozenset())}
)


def distinct_counts(sql: str, policy: Policy = POLICY) -> list[str]:
    """The columns whose distinct values the rewritten query counts, as ``table.column`` of the rewritten SELECTs."""
    tree = rewrite(checker.check(sql, policy), policy).tree
    counts = [c for c in tree.find_all(exp.Count) if isinstance(c.this, exp.Distinct)]
    return sorted(c.this.expressions[0].sql() for c in counts)


@pytest.mark.parametrize(
    ("sql", "identifying", "not_identifying"),
    [
        pytest.param("SELECT qx, COUNT(*) FROM person GROUP BY qx", [], ['"person"."gmsfhm"'], id="one-table"),
        pytest.param(
            "SELECT t.qx, COUNT(*) FROM (SELECT qx FROM person WHERE nl > 30) t GROUP BY t.qx",
            [],
            ['"t"."__sj_id0"'],
            id="through-a-derived-table",
        ),
        pytest.param(
            "SELECT xz, COUNT(*) FROM insurance GROUP BY xz",
            ['"insurance"."gmsfhm"'],
            ['"insurance"."gmsfhm"'],
            id="a-table-whose-key-repeats",
        ),
        pytest.param(
            "SELECT p.qx, COUNT(*) FROM person p JOIN insurance i ON p.gmsfhm = i.gmsfhm GROUP BY p.qx",
            ['"p"."gmsfhm"'],
            ['"p"."gmsfhm"'],
            id="inner-join-one-class",
        ),
        pytest.param(
            "SELECT p.qx, COUNT(*) FROM person p LEFT JOIN insurance i ON p.gmsfhm = i.gmsfhm GROUP BY p.qx",
            ['"i"."gmsfhm"', '"p"."gmsfhm"'],
            ['"i"."gmsfhm"', '"p"."gmsfhm"'],
            id="outer-join-both",
        ),
        pytest.param(
            "SELECT p.qx, COUNT(*) FROM person p JOIN insurance i ON p.qx = i.xz GROUP BY p.qx",
            ['"i"."gmsfhm"', '"p"."gmsfhm"'],
            ['"i"."gmsfhm"', '"p"."gmsfhm"'],
            id="inner-join-on-other-columns",
        ),
        pytest.param(
            "WITH y AS (SELECT gmsfhm AS id, qx FROM person WHERE nl < 40) "
            "SELECT y.qx, COUNT(*) FROM y JOIN insurance i ON y.id = i.gmsfhm GROUP BY y.qx",
            ['"y"."__sj_id0"'],
            ['"y"."__sj_id0"'],
            id="inner-join-with-a-carried-column",
        ),
    ],
)
def test_what_is_counted(sql: str, identifying: list[str], not_identifying: list[str]) -> None:
    assert distinct_counts(sql) == identifying
    assert distinct_counts(sql, NOT_IDENTIFYING) == not_identifying
