"""Working days, checked against the State Council notices themselves, not the library's output:
国办发明电〔2023〕7号 (2024), 国办发明电〔2024〕12号 (2025) and the notice of 4 November 2025 (2026)."""

from __future__ import annotations

import datetime as dt

import pytest

from shengjing.errors import InvalidInput
from shengjing.registry.calendar import (
    COVERED_YEARS,
    CalendarNotCovered,
    add_working_days,
    is_working_day,
    load_supplement,
    working_days_between,
)

D = dt.date


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]


# (first day off, last day off, weekend days worked in lieu), as each notice lists them.
NOTICES = {
    "2024 Spring Festival": (D(2024, 2, 10), D(2024, 2, 17), [D(2024, 2, 4), D(2024, 2, 18)]),
    "2024 Labour Day": (D(2024, 5, 1), D(2024, 5, 5), [D(2024, 4, 28), D(2024, 5, 11)]),
    "2024 Mid-autumn": (D(2024, 9, 15), D(2024, 9, 17), [D(2024, 9, 14)]),
    "2024 National Day": (D(2024, 10, 1), D(2024, 10, 7), [D(2024, 9, 29), D(2024, 10, 12)]),
    "2025 New Year": (D(2025, 1, 1), D(2025, 1, 1), []),
    "2025 Spring Festival": (D(2025, 1, 28), D(2025, 2, 4), [D(2025, 1, 26), D(2025, 2, 8)]),
    "2025 Labour Day": (D(2025, 5, 1), D(2025, 5, 5), [D(2025, 4, 27)]),
    "2025 Dragon Boat": (D(2025, 5, 31), D(2025, 6, 2), []),
    "2025 National Day and Mid-autumn": (D(2025, 10, 1), D(2025, 10, 8), [D(2025, 9, 28), D(2025, 10, 11)]),
    "2026 New Year": (D(2026, 1, 1), D(2026, 1, 3), [D(2026, 1, 4)]),
    "2026 Spring Festival": (D(2026, 2, 15), D(2026, 2, 23), [D(2026, 2, 14), D(2026, 2, 28)]),
    "2026 National Day": (D(2026, 10, 1), D(2026, 10, 7), [D(2026, 9, 20), D(2026, 10, 10)]),
}


@pytest.mark.parametrize("holiday", NOTICES)
def test_days_off_and_days_worked_in_lieu_are_the_notices(holiday: str) -> None:
    first, last, worked = NOTICES[holiday]
    assert [d for d in _days(first, last) if is_working_day(d)] == []
    for day in worked:
        assert day.weekday() >= 5, "the notice moves work to a weekend day"
        assert is_working_day(day)


def test_an_ordinary_week() -> None:
    assert [is_working_day(d) for d in _days(D(2024, 11, 4), D(2024, 11, 10))] == [True] * 5 + [False] * 2


@pytest.mark.parametrize(
    ("published", "n", "last_day"),
    [
        # Sat 28 Sep off, Sun 29 Sep worked (1), Mon 30 Sep (2), 1–7 Oct off, 8, 9, 10 Oct (3, 4, 5).
        (D(2024, 9, 27), 5, D(2024, 10, 10)),
        # 8–11 Oct (1–4), Sat 12 Oct worked (5), 14–18 Oct (6–10).
        (D(2024, 9, 30), 10, D(2024, 10, 18)),
        # Sun 26 Jan worked (1), Mon 27 Jan (2), 28 Jan – 4 Feb off, 5–7 Feb (3–5), Sat 8 Feb worked (6).
        (D(2025, 1, 24), 5, D(2025, 2, 7)),
        (D(2025, 1, 24), 6, D(2025, 2, 8)),
        # Published on a day off: the count still starts the next day.
        (D(2024, 10, 3), 1, D(2024, 10, 8)),
        # Sat 14 Feb 2026 worked (1); 15–23 Feb off; Tue 24 Feb (2).
        (D(2026, 2, 13), 1, D(2026, 2, 14)),
        (D(2026, 2, 13), 2, D(2026, 2, 24)),
        (D(2026, 2, 13), 0, D(2026, 2, 13)),
        # Across the turn of the year: Wed 31 Dec 2025, 1–3 Jan 2026 off, Sun 4 Jan worked (1), Mon 5 Jan (2).
        (D(2025, 12, 31), 2, D(2026, 1, 5)),
    ],
)
def test_publicity_periods(published: dt.date, n: int, last_day: dt.date) -> None:
    assert add_working_days(published, n) == last_day
    assert working_days_between(published, last_day) == n
    assert working_days_between(last_day, published) == -n


def test_working_days_between_inverts_add_working_days() -> None:
    for start in _days(D(2024, 9, 20), D(2024, 10, 15)) + _days(D(2025, 1, 20), D(2025, 2, 10)):
        for n in (0, 1, 3, 7, 15):
            assert working_days_between(start, add_working_days(start, n)) == n


def test_a_year_without_data_is_refused_with_its_year_named() -> None:
    missing = COVERED_YEARS.stop  # the first year the installed package has no notice for
    for call in (
        lambda: is_working_day(D(missing, 3, 2)),
        lambda: add_working_days(D(missing - 1, 12, 20), 30),  # runs into the next year
        lambda: working_days_between(D(missing - 1, 12, 1), D(missing, 1, 10)),
        lambda: is_working_day(D(COVERED_YEARS.start - 1, 6, 1)),
    ):
        with pytest.raises(CalendarNotCovered) as caught:
            call()
        year = caught.value.details["year"]
        assert year in (missing, COVERED_YEARS.start - 1)
        assert f"{year} 年" in caught.value.message_zh
        assert f"does not cover {year}" in caught.value.message_en
        assert caught.value.http_status == 503


@pytest.mark.skipif(2027 in COVERED_YEARS, reason="the installed chinese-calendar has the 2027 notice")
def test_a_period_running_into_2027_is_refused_until_its_notice_is_in() -> None:
    with pytest.raises(CalendarNotCovered, match="2027"):
        add_working_days(D(2026, 12, 25), 10)


def test_timestamps_and_negative_counts_are_refused() -> None:
    with pytest.raises(InvalidInput, match="not a timestamp"):
        is_working_day(dt.datetime(2024, 10, 8, 9, 0, tzinfo=dt.UTC))
    with pytest.raises(InvalidInput, match="negative"):
        add_working_days(D(2024, 10, 8), -1)


def test_a_supplement_covers_a_year_the_package_does_not_have(tmp_path) -> None:  # type: ignore[no-untyped-def]
    year = COVERED_YEARS.stop  # the first year after the package's last notice
    first_monday = next(D(year, 1, d) for d in range(1, 8) if D(year, 1, d).weekday() == 0)
    first_saturday = first_monday + dt.timedelta(days=5)
    path = tmp_path / "calendar.yaml"
    path.write_text(
        f"{year}:\n  holidays: [{D(year, 1, 1)}, {first_monday}]\n  workdays: [{first_saturday}]\n", encoding="utf-8"
    )
    supplement = load_supplement(path)
    assert not is_working_day(first_monday, supplement)
    assert is_working_day(first_saturday, supplement)
    assert is_working_day(first_monday + dt.timedelta(days=1), supplement)
    end = add_working_days(D(year - 1, 12, 30), 3, supplement)
    assert working_days_between(D(year - 1, 12, 30), end, supplement) == 3
    with pytest.raises(CalendarNotCovered):
        is_working_day(first_monday)  # without the supplement the year is still unknown


@pytest.mark.parametrize(
    "text",
    ["2030:\n  holidays: [2031-01-01]\n", "2030:\n  holidays: [2030-01-01]\n  workdays: [2030-01-01]\n", "[1, 2]\n"],
)
def test_a_wrong_supplement_is_refused_naming_the_file(tmp_path, text: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "calendar.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInput) as refused:
        load_supplement(path)
    assert refused.value.details["file"] == str(path)
