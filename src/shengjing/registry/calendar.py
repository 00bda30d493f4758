"""Working days (工作日) on the Chinese calendar: the publicity period (公示期) of a registration is counted in
them.

Which days are off is not computable: each year the General Office of the State Council publishes a notice
(国务院办公厅关于某年部分节假日安排的通知) with the holidays and the weekend days that are worked instead
(调休). The dates come from the maintained ``chinese-calendar`` package, which adds each year once its notice is
out. A date in a year the installed package does not cover raises ``CalendarNotCovered``: guessing that the
weekends alone are off would move deadlines that have legal effect.

Periods follow article 201 of the Civil Code (民法典第二百零一条): the day an event happens is not counted;
the period starts on the next day.
"""

from __future__ import annotations

import datetime as dt

import chinese_calendar

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
            f"请在国务院办公厅公布 {year} 年节假日安排后升级 chinese-calendar 软件包。",
            f"The holiday data does not cover {year} (it has {COVERED_YEARS.start}–{COVERED_YEARS.stop - 1}), so "
            f"working days cannot be counted: upgrade the chinese-calendar package once the State Council has "
            f"published the holiday arrangements for {year}.",
            year=year,
        )


def _checked(day: dt.date) -> dt.date:
    # A datetime is a date too, but which calendar day it falls on depends on its time zone: make callers say.
    if isinstance(day, dt.datetime) or not isinstance(day, dt.date):
        raise InvalidInput(
            "请给出日期（北京时间的日历日），而不是时间戳。",
            "Give a date (the calendar day in Asia/Shanghai), not a timestamp.",
            value=str(day),
        )
    if day.year not in COVERED_YEARS:
        raise CalendarNotCovered(day.year)
    return day


def is_working_day(day: dt.date) -> bool:
    """True on a working day: a Monday to Friday that is not a holiday, or a weekend day worked in lieu (调休)."""
    return bool(chinese_calendar.is_workday(_checked(day)))


def add_working_days(start: dt.date, n: int) -> dt.date:
    """The last day of a period of ``n`` working days that begins after ``start``.

    ``start`` itself (the day of publication) is never counted, whether or not it is a working day: the first
    day counted is the first working day after it. So ``add_working_days(d, 1)`` is the next working day after
    ``d``, and a publicity of 10 working days published on ``d`` ends at the end of ``add_working_days(d, 10)``.
    ``n == 0`` gives ``start``.
    """
    if n < 0:
        raise InvalidInput(f"工作日天数不能为负数：{n}。", f"The number of working days cannot be negative: {n}.", n=n)
    day = _checked(start)
    remaining = n
    while remaining:
        day += _ONE_DAY
        if is_working_day(day):
            remaining -= 1
    return day


def working_days_between(a: dt.date, b: dt.date) -> int:
    """The working days after ``a`` up to and including ``b``; negative when ``b`` is before ``a``.

    This is the inverse of ``add_working_days``: ``working_days_between(d, add_working_days(d, n)) == n``.
    """
    _checked(a)
    _checked(b)
    if b < a:
        return -working_days_between(b, a)
    return sum(is_working_day(a + k * _ONE_DAY) for k in range(1, (b - a).days + 1))
