"""Working days (工作日) on the Chinese calendar: the publicity period (公示期) of a registration is counted in
them.

Which days are off is not computable: each year the General Office of the State Council publishes a notice
(国务院办公厅关于某年部分节假日安排的通知) with the holidays and the weekend days that are worked instead
(调休). The dates come from the maintained ``chinese-calendar`` package, which adds each year once its notice is
out. A date in a year the installed package does not cover raises ``CalendarNotCovered``: guessing that the
weekends alone are off would move deadlines that have legal effect. Until the package catches up with a new
notice, the bureau can enter it in a supplement file (``SHENGJING_REGISTRY_CALENDAR_PATH``, see ``Supplement``).

Periods follow article 201 of the Civil Code (民法典第二百零一条): the day an event happens is not counted;
the period starts on the next day.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path

import chinese_calendar
import yaml

from shengjing.errors import ConfigurationError, InvalidInput

# The years whose State Council notice the installed package encodes (it keys its holiday table by date).
COVERED_YEARS = range(min(chinese_calendar.holidays).year, max(chinese_calendar.holidays).year + 1)

_ONE_DAY = dt.timedelta(days=1)


class CalendarNotCovered(ConfigurationError):
    """A date in a year whose holiday arrangements the installed calendar data does not have."""

    code = "calendar_not_covered"
    http_status = 503

    def __init__(self, year: int) -> None:
        super().__init__(
            f"节假日数据未覆盖 {year} 年（现有 {COVERED_YEARS.start}–{COVERED_YEARS.stop - 1} 年），无法计算工作日："
            f"请在国务院办公厅公布 {year} 年节假日安排后升级 chinese-calendar 软件包，或录入节假日补充文件"
            f"（SHENGJING_REGISTRY_CALENDAR_PATH）。",
            f"The holiday data does not cover {year} (it has {COVERED_YEARS.start}–{COVERED_YEARS.stop - 1}), so "
            f"working days cannot be counted: upgrade the chinese-calendar package once the State Council has "
            f"published the holiday arrangements for {year}, or enter them in SHENGJING_REGISTRY_CALENDAR_PATH.",
            year=year,
        )


@dataclass(frozen=True)
class Supplement:
    """Holiday arrangements for years the package does not have yet, as the bureau enters them from the State
    Council's notice (the package lags the notice by weeks): for each year, the days off and the weekend days
    worked in lieu. A year given here is read from here alone."""

    holidays: frozenset[dt.date] = frozenset()
    workdays: frozenset[dt.date] = frozenset()
    years: frozenset[int] = frozenset()


NO_SUPPLEMENT = Supplement()


def load_supplement(path: Path | None) -> Supplement:
    """The supplement file (YAML: ``2027: {holidays: [2027-01-01, …], workdays: [2027-02-14, …]}``), checked:
    every date is in the year it is listed under, and no day is both off and worked."""
    if path is None:
        return NO_SUPPLEMENT
    return _load_supplement(path, path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _load_supplement(path: Path, _mtime: int) -> Supplement:
    def bad(why_zh: str, why_en: str) -> InvalidInput:
        return InvalidInput(
            f"节假日补充文件 {path} 有误：{why_zh}",
            f"The holiday supplement {path} is invalid: {why_en}",
            file=str(path),
        )

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise bad("无法读取或不是 YAML。", f"it cannot be read as YAML ({exc}).") from None
    if not isinstance(data, dict):
        raise bad(
            "应为“年份: {holidays: [...], workdays: [...]}”。", "expected 'year: {holidays: [...], workdays: [...]}'."
        )
    holidays: set[dt.date] = set()
    workdays: set[dt.date] = set()
    for year, days in data.items():
        if not isinstance(year, int) or not isinstance(days, dict) or set(days) - {"holidays", "workdays"}:
            raise bad(
                f"{year} 年的内容应为 holidays 和 workdays 两个日期列表。", f"{year}: expected holidays and workdays."
            )
        for name, into in (("holidays", holidays), ("workdays", workdays)):
            for day in days.get(name) or []:
                if not isinstance(day, dt.date) or isinstance(day, dt.datetime) or day.year != year:
                    raise bad(
                        f"{year} 年 {name} 中的 {day} 不是该年的日期。",
                        f"{year}.{name}: {day} is not a date of {year}.",
                    )
                into.add(day)
    if holidays & workdays:
        first = min(holidays & workdays)
        raise bad(f"{first} 既是休息日又是工作日。", f"{first} is both a day off and a working day.")
    return Supplement(frozenset(holidays), frozenset(workdays), frozenset(data))


def _checked(day: dt.date, supplement: Supplement) -> dt.date:
    # A datetime is a date too, but which calendar day it falls on depends on its time zone: make callers say.
    if isinstance(day, dt.datetime) or not isinstance(day, dt.date):
        raise InvalidInput(
            "请给出日期（北京时间的日历日），而不是时间戳。",
            "Give a date (the calendar day in Asia/Shanghai), not a timestamp.",
            value=str(day),
        )
    if day.year not in COVERED_YEARS and day.year not in supplement.years:
        raise CalendarNotCovered(day.year)
    return day


def is_working_day(day: dt.date, supplement: Supplement = NO_SUPPLEMENT) -> bool:
    """True on a working day: a Monday to Friday that is not a holiday, or a weekend day worked in lieu (调休)."""
    _checked(day, supplement)
    if day.year in supplement.years:
        return day in supplement.workdays or (day.weekday() < 5 and day not in supplement.holidays)
    return bool(chinese_calendar.is_workday(day))


def add_working_days(start: dt.date, n: int, supplement: Supplement = NO_SUPPLEMENT) -> dt.date:
    """The last day of a period of ``n`` working days that begins after ``start``.

    ``start`` itself (the day of publication) is never counted, whether or not it is a working day: the first
    day counted is the first working day after it. So ``add_working_days(d, 1)`` is the next working day after
    ``d``, and a publicity of 10 working days published on ``d`` ends at the end of ``add_working_days(d, 10)``.
    ``n == 0`` gives ``start``.
    """
    if n < 0:
        raise InvalidInput(f"工作日天数不能为负数：{n}。", f"The number of working days cannot be negative: {n}.", n=n)
    day = _checked(start, supplement)
    remaining = n
    while remaining:
        day += _ONE_DAY
        if is_working_day(day, supplement):
            remaining -= 1
    return day


def working_days_between(a: dt.date, b: dt.date, supplement: Supplement = NO_SUPPLEMENT) -> int:
    """The working days after ``a`` up to and including ``b``; negative when ``b`` is before ``a``.

    This is the inverse of ``add_working_days``: ``working_days_between(d, add_working_days(d, n)) == n``.
    """
    _checked(a, supplement)
    _checked(b, supplement)
    if b < a:
        return -working_days_between(b, a, supplement)
    return sum(is_working_day(a + k * _ONE_DAY, supplement) for k in range(1, (b - a).days + 1))
