"""What the departments actually send: the generated (clean, typed) tables as each department delivers them.

Departments deliver in their own formats and encodings, and their exports carry the blemishes real ones do:
a mistyped ID check digit, digits typed full-width by an input method, dates written 1980年1月1日, lower-case
credit codes, a trailing space. Standardization repairs what it can; quality rules quarantine the rest. The
blemishes are drawn from the city's seed, so the same city always yields the same deliveries.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from openpyxl import Workbook

from shengjing.demo.generator import CityManifest


@dataclass(frozen=True)
class Delivery:
    table: str
    format: str  # csv | xlsx | parquet
    encoding: str | None  # for CSV
    blemishes: tuple[tuple[str, float, str], ...]  # (column, share of rows, kind)

    @property
    def suffix(self) -> str:
        return self.format


# Shares are small on purpose: a realistic export is mostly clean. Kinds are explained in _BLEMISHES.
DELIVERIES: Final[dict[str, Delivery]] = {
    d.table: d
    for d in (
        Delivery(
            "person",
            "csv",
            "gbk",
            (("id_number", 0.004, "check_digit"), ("id_number", 0.01, "fullwidth"), ("birth_date", 0.02, "cn_date")),
        ),
        Delivery(
            "enterprise",
            "xlsx",
            None,
            (("credit_code", 0.02, "lower"), ("legal_representative_id", 0.005, "check_digit")),
        ),
        Delivery(
            "social_insurance", "csv", "gbk", (("id_number", 0.002, "check_digit"), ("month", 0.01, "slash_date"))
        ),
        Delivery("housing_fund", "csv", "utf-8", (("id_number", 0.002, "check_digit"), ("id_number", 0.01, "padded"))),
        Delivery("clinic_visit", "parquet", None, ()),  # a hospital information system's typed export
        Delivery("school_enrolment", "csv", "utf-8", (("id_number", 0.003, "check_digit"),)),
        Delivery("bus_card_trip", "csv", "utf-8", (("card_no", 0.001, "fullwidth"),)),
        # The registers carry their own noise (generator: "Departmental registers"); the exports add little.
        # New deliveries go last: a delivery's blemishes are drawn from its position.
        Delivery("insured_person", "csv", "gb18030", (("birth_date", 0.01, "cn_date"),)),
        # Not Parquet: the ingest reads a typed timestamp column (updated_at) as text it does not accept.
        Delivery("patient", "csv", "utf-8", (("birth_date", 0.005, "slash_date"),)),
        Delivery("student", "xlsx", None, ()),
        Delivery("taxpayer", "csv", "utf-8", (("credit_code", 0.01, "lower"),)),
        Delivery("employer", "csv", "gbk", (("contact_phone", 0.01, "padded"),)),
        # The licence and property-unit registers: the same, their own noise and a few blemishes on top.
        Delivery(
            "food_licence", "xlsx", None, (("holder_credit_code", 0.01, "lower"), ("issued_on", 0.005, "cn_date"))
        ),
        Delivery("licence_push", "csv", "utf-8", (("issued_on", 0.005, "slash_date"),)),
        Delivery("real_estate_unit", "csv", "gbk", (("registered_on", 0.01, "cn_date"), ("unit_no", 0.002, "padded"))),
        # Not XLSX: a spreadsheet of the survey's 125,000 houses (at 470,000 residents) takes 16 s to write.
        Delivery("house", "csv", "gb18030", (("address", 0.005, "padded"),)),
    )
}

_FULLWIDTH: Final = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
_WRONG_CHECK: Final = str.maketrans("0123456789X", "1234567890" + "0")


def _local_text(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Dates and times as the departments write them: ISO dates, local (Asia/Shanghai) wall-clock times."""
    if pa.types.is_timestamp(column.type):
        local = pc.cast(column, pa.timestamp("s", tz="Asia/Shanghai"))  # whole seconds: %S prints no fraction
        return pc.strftime(local, format="%Y-%m-%d %H:%M:%S")
    return pc.cast(column, pa.string())


def _blemish(values: list[str | None], kind: str) -> list[str | None]:
    def one(v: str) -> str:
        if kind == "check_digit":  # a mistyped last character: the ID no longer passes GB 11643
            return v[:-1] + v[-1].translate(_WRONG_CHECK)
        if kind == "fullwidth":
            return v.translate(_FULLWIDTH)
        if kind == "lower":
            return v.lower()
        if kind == "padded":
            return f" {v} "
        if kind == "cn_date":
            d = date.fromisoformat(v)
            return f"{d.year}年{d.month}月{d.day}日"
        if kind == "slash_date":
            return v.replace("-", "/")
        raise ValueError(kind)

    return [None if v is None else one(v) for v in values]


def _as_delivered(table: pa.Table, delivery: Delivery, rng: np.random.Generator) -> pa.Table:
    """All columns as text (what a CSV or spreadsheet holds), with this delivery's blemishes applied."""
    columns = {name: _local_text(table.column(name)) for name in table.column_names}
    if delivery.table == "enterprise":  # 营业执照 state registered capital in 万元
        yuan = pc.cast(table.column("registered_capital"), pa.int64())
        columns["registered_capital"] = pc.cast(pc.divide(yuan, 10_000), pa.string())
    for column, share, kind in delivery.blemishes:
        rows = np.flatnonzero(rng.random(table.num_rows) < share)
        if rows.size:
            values = columns[column].to_pylist()
            for row, new in zip(rows.tolist(), _blemish([values[r] for r in rows.tolist()], kind), strict=True):
                values[row] = new
            columns[column] = pa.array(values, pa.string())
    return pa.table(columns)


def _write_csv(path: Path, batches: Iterable[pa.Table], encoding: str) -> None:
    with path.open("wb") as out:
        for index, batch in enumerate(batches):
            buffer = io.BytesIO()
            pacsv.write_csv(batch, buffer, pacsv.WriteOptions(include_header=index == 0))
            text = buffer.getvalue()
            out.write(text if encoding == "utf-8" else text.decode("utf-8").encode(encoding))


def _write_xlsx(path: Path, batches: Iterable[pa.Table], typed: pa.Schema) -> None:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("数据")
    sheet.append(typed.names)
    date_columns = {i for i, f in enumerate(typed) if pa.types.is_date(f.type)}
    for batch in batches:
        for row in zip(*(batch.column(i).to_pylist() for i in range(batch.num_columns)), strict=True):
            # Spreadsheets hold real date cells; a blemished (non-ISO) date stays text, as typed by hand.
            sheet.append([_date_cell(v) if i in date_columns else v for i, v in enumerate(row)])
    book.save(path)


def _date_cell(value: str | None) -> datetime | str | None:
    try:
        return datetime.fromisoformat(value) if value else value
    except ValueError:
        return value


def write_deliveries(manifest: CityManifest, out_dir: Path, *, batch_rows: int = 200_000) -> dict[str, Path]:
    """Write each generated table as its department delivers it; returns the file of each table. Tables the
    city was generated without are skipped."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    generated = manifest.paths
    for index, (name, delivery) in enumerate(DELIVERIES.items()):
        if name not in generated:
            continue
        source = generated[name]
        target = out_dir / f"{name}.{delivery.suffix}"
        if delivery.format == "parquet":
            target.unlink(missing_ok=True)
            target.hardlink_to(source)
            paths[name] = target
            continue
        rng = np.random.default_rng([manifest.seed, index])
        parquet = pq.ParquetFile(source)
        # One batch at a time: the bus trips of a bench-sized city do not fit in memory as text.
        batches = (_as_delivered(pa.Table.from_batches([b]), delivery, rng) for b in parquet.iter_batches(batch_rows))
        staged = target.with_name(f".{target.name}.partial")
        if delivery.format == "xlsx":
            _write_xlsx(staged, batches, parquet.schema_arrow)
        else:
            _write_csv(staged, batches, delivery.encoding or "utf-8")
        staged.replace(target)
        paths[name] = target
    return paths
