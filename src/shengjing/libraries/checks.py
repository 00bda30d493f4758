"""Identifier checks as SQL expressions, so that validity is decided inside the engine, on every row.

python-stdnum decides the same questions in Python (and the tests hold the two to the same answers), but a
base library checks every record of every source: that belongs in the engine, vectorized, on DuckDB and
Spark alike, rather than in a Python loop. The expressions use only what both engines share (SUBSTR, CAST,
STRPOS, arithmetic, regular-expression match), in DuckDB's dialect; sqlglot renders them for Spark.
"""

from __future__ import annotations

from shengjing.libraries.spec import IdentifierCheck

# GB 11643: weights 2^(17-i) mod 11, check character "10X98765432"[sum mod 11].
_RESIDENT_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]
# GB 32100: alphabet without I, O, S, V, Z; weights 3^i mod 31; check = (31 - sum mod 31) mod 31.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]


def _resident_id(column: str) -> str:
    # TRY_CAST: engines evaluate both sides of the AND, so a value that failed the pattern is still cast.
    total = " + ".join(
        f"TRY_CAST(SUBSTR({column}, {i + 1}, 1) AS INTEGER) * {w}" for i, w in enumerate(_RESIDENT_WEIGHTS)
    )
    return (
        f"(COALESCE(regexp_matches({column}, '^[1-9][0-9]{{16}}[0-9X]$'), FALSE) "
        f"AND SUBSTR('10X98765432', (({total}) % 11) + 1, 1) = SUBSTR({column}, 18, 1))"
    )


def _credit_code(column: str) -> str:
    value = f"(STRPOS('{USCC_ALPHABET}', SUBSTR({column}, {{i}}, 1)) - 1)"
    total = " + ".join(f"{value.format(i=i + 1)} * {w}" for i, w in enumerate(_USCC_WEIGHTS))
    return (
        f"(COALESCE(regexp_matches({column}, '^[0-9A-HJ-NP-RTUWXY]{{18}}$'), FALSE) "
        f"AND SUBSTR('{USCC_ALPHABET}', ((31 - (({total}) % 31)) % 31) + 1, 1) = SUBSTR({column}, 18, 1))"
    )


def is_valid(check: IdentifierCheck, column: str, pattern: str | None = None) -> str:
    """A boolean SQL expression, never NULL: is the value of ``column`` a valid identifier of this kind. A pattern
    uses only what RE2 (DuckDB) and Java's regular expressions (Spark) read alike: classes, counts, anchors."""
    if check is IdentifierCheck.RESIDENT_ID:
        return _resident_id(column)
    if check is IdentifierCheck.CREDIT_CODE:
        return _credit_code(column)
    assert pattern is not None  # noqa: S101 - the declaration's validator requires it
    return f"COALESCE(regexp_matches({column}, '{pattern.replace(chr(39), chr(39) * 2)}'), FALSE)"
