"""Spreadsheet exports shared by every door (console downloads, CLI files): sheets of a header and rows."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_bytes(sheets: Iterable[tuple[str, Sequence[str], Iterable[Sequence[Any]]]]) -> bytes:
    """An XLSX workbook with one sheet per (title, header, rows), written in streaming mode."""
    from openpyxl import Workbook  # only exports need it

    workbook = Workbook(write_only=True)
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(title[:31])  # Excel's limit on sheet names
        sheet.append(list(header))
        for row in rows:
            sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
