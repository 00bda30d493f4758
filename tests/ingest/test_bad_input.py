"""Bad input, the one place to read how each kind is met: wrong encoding, ragged rows, a changed header, values
that do not parse, an empty file, a 2 GB file on a full disk, a database that refuses the connection or lacks
the table, an unknown resource, another department's upload, an upload over the limit. Each gets a clear error
in Chinese and English naming the file, line or field (or, for a value, quarantine with the reason), and loses
nothing: the previous version stays current and readable, no snapshot, staging or spooled upload is left behind,
and the audit trail records the failed or denied attempt."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url, select

from shengjing import cli
from shengjing.audit.models import AuditEvent
from shengjing.catalog import service as catalog
from shengjing.catalog.schemas import FieldIn, ResourceIn, ShareType, UpdateFrequency
from shengjing.config import Settings
from shengjing.errors import DataFormatError, NotFound, PermissionDenied, ShengjingError, StorageFull
from shengjing.identity.principal import OrgType, Principal
from shengjing.ingest import service as ingest
from shengjing.ingest import standardize
from shengjing.ingest.readers import SourceUnreachable, open_source
from shengjing.store.db import unit_of_work
from shengjing.store.lake import Lake
from tests.conftest import POSTGRES_URL, World
from tests.ingest.conftest import GOOD, csv_file

CODE = "DISK-1"
TWO_GB = 2 * 1024**3
LAKE_MB = 32
REAL_ROWS_BYTES = 4 * LAKE_MB * 1024**2  # four times the lake's disk: it fills long before the tail


def _unshare_works() -> bool:
    try:
        probe = ["unshare", "--user", "--map-root-user", "--mount", "true"]
        return subprocess.run(probe, capture_output=True, timeout=10, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture
def resource(world: World) -> World:
    world.org("HRSS", OrgType.DEPARTMENT, "沈阳市人力资源和社会保障局")
    with unit_of_work(world.sessions) as db:
        catalog.create_resource(
            db,
            world.system,
            ResourceIn(
                code=CODE,
                name="磁盘测试",
                department="HRSS",
                share_type=ShareType.CONDITIONAL,
                open_type=ShareType.NONE,
                update_frequency=UpdateFrequency.DAILY,
                fields=[FieldIn(name="a", label="甲"), FieldIn(name="b", label="乙")],
            ),
        )
    return world


def _csv_with_a_sparse_tail(path: Path, head_bytes: int, size: int) -> int:
    """A CSV of ``size`` bytes whose first ``head_bytes`` are valid rows of random hex and the rest a sparse tail of
    NUL bytes, which costs nothing to write and does not parse. The rows are one block of at most 8 MB, repeated:
    Parquet compresses within a page (~1 MB), so the repetition does not shrink the snapshot, and the lake fills
    as it would with real data. Returns the number of rows in the head."""
    rows = min(head_bytes, 8 << 20) // 66  # 32 hex + "," + 32 hex + newline
    hexes = os.urandom(32 * rows).hex()
    block = "".join(f"{hexes[i : i + 32]},{hexes[i + 32 : i + 64]}\n" for i in range(0, len(hexes), 64)).encode()
    with path.open("wb") as out:
        out.write(b"a,b\n")
        for _ in range(max(head_bytes // len(block), 1)):
            out.write(block)
        written = out.tell()
        out.truncate(size)
    return (written - 4) // 66


@pytest.mark.skipif(not _unshare_works(), reason="unshare --user --mount is not permitted here (no user namespaces)")
def test_a_2_gb_file_on_a_full_disk(resource: World, settings: Settings, tmp_path: Path) -> None:
    small, big, lake = tmp_path / "small.csv", tmp_path / "big.csv", tmp_path / "lake"
    small.write_text("a,b\n甲1,乙1\n甲2,乙2\n", "utf-8")
    _csv_with_a_sparse_tail(big, REAL_ROWS_BYTES, TWO_GB)
    lake.mkdir()
    # Inside the namespace the lake is a small tmpfs. One Python process (starting one costs seconds) runs the
    # `shengjing` command's entry point as `python -m shengjing` would, for a first small version and then the
    # 2 GB file, and inspects the lake afterwards (the tmpfs disappears with the namespace).
    driver = textwrap.dedent(f"""
        import contextlib, io, json, pathlib, sys
        from shengjing import cli
        from shengjing.config import Settings
        from shengjing.identity.principal import system_principal
        from shengjing.ingest import service
        from shengjing.store.db import make_engine, make_session_factory

        def shengjing(*args):
            sys.argv, said = ["shengjing", *args], io.StringIO()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(said):
                try:
                    cli.main()
                except SystemExit as exit:
                    return exit.code, said.getvalue()
            return 0, said.getvalue()

        first = shengjing("ingest", {str(small)!r}, "--resource", {CODE!r})
        code, said = shengjing("ingest", {str(big)!r}, "--resource", {CODE!r})
        settings = Settings()
        sessions = make_session_factory(make_engine(settings.database_url), settings)
        staging = pathlib.Path({str(lake)!r}) / "_staging"
        print(json.dumps({{"first": first, "exit_code": code, "said": said,
                          "rows": service.read_current(sessions, system_principal("t"), {CODE!r}).num_rows,
                          "staging": sorted(p.name for p in staging.iterdir()) if staging.exists() else []}}))
    """)
    (tmp_path / "driver.py").write_text(driver, "utf-8")
    env = {
        **os.environ,
        "SHENGJING_DATABASE_URL": settings.database_url,
        "SHENGJING_VAR_DIR": str(settings.var_dir),
        "SHENGJING_LAKE_DIR": str(lake),
        "SHENGJING_LOG_LEVEL": "WARNING",
        "COLUMNS": "200",
    }
    script = f"mount -t tmpfs -o size={LAKE_MB}m tmpfs {lake} && {sys.executable} {tmp_path / 'driver.py'}"
    try:
        done = subprocess.run(
            ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        big.unlink()
    assert done.returncode == 0, done.stdout + done.stderr
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state["first"] == [0, ""], state
    assert state["exit_code"] == StorageFull.exit_code, state
    assert "磁盘空间不足" in state["said"] and "Disk full" in state["said"]
    assert (state["rows"], state["staging"]) == (2, [])  # v1 still readable, nothing left behind
    with resource.db() as db:
        assert catalog.get_resource(db, resource.system, CODE).current_version == 1
        events = db.scalars(select(AuditEvent).where(AuditEvent.action == "catalog.resource.ingest")).all()
    assert [e.outcome for e in events] == ["success", "failed"]
    assert events[-1].details["error"] == "storage_full"
    # The reader never reached the tail: had it, the ingest would have failed on the format, not on the disk.
    # The same construction, small, shows that the tail does not parse: every real row is read, then refused.
    control = tmp_path / "control.csv"
    head_rows = _csv_with_a_sparse_tail(control, 1 << 20, 9 << 20)
    source, read = open_source(control), 0
    with pytest.raises(DataFormatError):
        for batch in source.batches():
            read += batch.num_rows
    assert read == head_rows > 0


# --- the department's resource SB-0001 (tests/ingest/conftest.py), with a good first version -------------------

SB = "SB-0001"
ROW = ("张三", GOOD[0], "男", "2024-01-05", "512.30")
UPLOAD_LIMIT = 64 * 1024


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared test settings with a small upload limit, so the over-the-limit upload stays small."""
    return settings.model_copy(update={"max_upload_bytes": UPLOAD_LIMIT})


@pytest.fixture
def v1(hrss: tuple[World, Principal], tmp_path: Path) -> tuple[World, Principal]:
    """SB-0001 holding one good row as version 1: every refusal below must leave exactly that."""
    world, actor = hrss
    ingest.ingest(world.sessions, actor, SB, str(csv_file(tmp_path / "v1.csv", [ROW])))
    return world, actor


def _refused(world: World, actor: Principal, location: str, **options: Any) -> ShengjingError:
    with pytest.raises(ShengjingError) as info:
        ingest.ingest(world.sessions, actor, SB, location, **options)
    return info.value


def _says(error: ShengjingError, *zh_and_en: str) -> None:
    """The error names these things (a file, a line, a field) in both languages."""
    for part in zh_and_en:
        assert part in error.message_zh and part in error.message_en, (part, error.to_dict())


def _nothing_changed(world: World, *, outcome: str = "failed", error: str, target: str = SB) -> None:
    """Version 1 is still the current and only version, readable; no snapshot, staging or spooled upload was
    left behind; and the audit trail holds the refused attempt, with its error code."""
    with world.db() as db:
        resource = catalog.get_resource(db, world.system, SB)
        event = db.scalars(
            select(AuditEvent).where(AuditEvent.action == "catalog.resource.ingest").order_by(AuditEvent.seq.desc())
        ).first()
    assert resource.current_version == 1 and [v.version for v in resource.versions] == [1]
    assert ingest.read_current(world.sessions, world.system, SB).to_pydict()["xm"] == ["张三"]
    lake = Lake(world.settings.lake_path)
    assert [s.version for s in lake.dataset("resource", SB).snapshots()] == [1]
    assert [s.version for s in lake.dataset("quarantine", SB).snapshots()] == [1]
    for directory in (lake.root / "_staging", world.settings.var_dir / "uploads"):
        assert not directory.exists() or not any(directory.iterdir()), directory
    assert event is not None and (event.outcome, event.target_id) == (outcome, target)
    assert event.details["error"] == error, event.details


def test_wrong_encoding(v1, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world, actor = v1
    # A GBK file read as UTF-8: its ASCII lines pass, the first Chinese one (line 4) is named.
    rows = [("Zhang", GOOD[0], "1", "2024-01-05", "1"), ("Li", GOOD[1], "2", "2024-01-05", "2"), ROW]
    gbk = csv_file(tmp_path / "gbk.csv", rows, encoding="gbk")
    error = _refused(world, actor, str(gbk), encoding="utf-8")
    assert isinstance(error, DataFormatError) and error.code == "data_format_error"
    assert (error.details["file"], error.details["line"], error.details["encoding"]) == (str(gbk), 4, "utf-8")
    _says(error, "gbk.csv", "utf-8", "gb18030")  # the file, the encoding tried, the override to use instead
    assert "第 4 行" in error.message_zh and "line 4" in error.message_en
    _nothing_changed(world, error="data_format_error")
    # Random bytes named .csv: no encoding fits them; the error asks for one instead of guessing.
    binary = tmp_path / "random.csv"
    binary.write_bytes(random.Random(3).randbytes(64 * 1024))
    error = _refused(world, actor, str(binary))
    assert isinstance(error, DataFormatError) and error.details["file"] == str(binary)
    _says(error, "random.csv", "gb18030", "utf-8")
    _nothing_changed(world, error="data_format_error")


def test_ragged_rows(v1, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world, actor = v1
    good = ",".join(ROW)
    for name, bad, actual in [("too_many.csv", good + ",多余", 6), ("too_few.csv", ",".join(ROW[:4]), 4)]:
        path = tmp_path / name
        path.write_text("\n".join(["xm,sfzh,xb,jfrq,jfje", good, good, bad, good]) + "\n", "utf-8")
        error = _refused(world, actor, str(path))
        assert isinstance(error, DataFormatError) and error.code == "data_format_error"
        assert error.details["file"] == str(path) and error.details["line"] == 4
        assert (error.details["expected_fields"], error.details["actual_fields"]) == (5, actual)
        _says(error, name, "5", str(actual))
        assert "第 4 行" in error.message_zh and "line 4" in error.message_en and "多余" not in str(error.to_dict())
        _nothing_changed(world, error="data_format_error")


def test_a_header_that_changed_between_versions(v1, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world, actor = v1
    renamed = csv_file(tmp_path / "renamed.csv", [ROW], header="xm,sfzh,xb,jfrq,amount")
    error = _refused(world, actor, str(renamed))
    assert isinstance(error, DataFormatError) and error.code == "data_format_error"
    assert (error.details["file"], error.details["line"]) == (str(renamed), 1)
    assert (error.details["missing"], error.details["extra"]) == (["jfje"], ["amount"])
    _says(error, "jfje", "amount")
    _nothing_changed(world, error="data_format_error")
    # A resource declared without fields takes them from its first ingest, and holds every later one to them.
    with unit_of_work(world.sessions) as db:
        catalog.create_resource(
            db,
            actor,
            ResourceIn(
                code="SB-FREE",
                name="未声明数据项的资源",
                department="HRSS",
                share_type=ShareType.CONDITIONAL,
                open_type=ShareType.NONE,
                update_frequency=UpdateFrequency.MONTHLY,
            ),
        )
    (tmp_path / "first.csv").write_text("a,b\n1,2\n", "utf-8")
    (tmp_path / "second.csv").write_text("a,c\n1,2\n", "utf-8")
    assert ingest.ingest(world.sessions, actor, "SB-FREE", str(tmp_path / "first.csv")).version == 1
    with pytest.raises(DataFormatError) as info:
        ingest.ingest(world.sessions, actor, "SB-FREE", str(tmp_path / "second.csv"))
    assert (info.value.details["missing"], info.value.details["extra"]) == (["b"], ["c"])
    with world.db() as db:
        assert catalog.get_resource(db, actor, "SB-FREE").current_version == 1


def test_values_that_do_not_parse_are_quarantined_not_lost(v1, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A value that is not its field's type is not an error of the file: its row is held with the rule and the
    reason, and the rest of the file is ingested (rows in = accepted + quarantined)."""
    world, actor = v1
    rows = [ROW, ("李四", GOOD[1], "女", "2024-02-05", "十元"), ("王五", GOOD[2], "男", "2024-02-30", "1")]
    report = ingest.ingest(world.sessions, actor, SB, str(csv_file(tmp_path / "typed.csv", rows)))
    assert (report.rows_in, report.rows_accepted, report.rows_quarantined) == (3, 1, 2)
    assert report.rows_in == report.rows_accepted + report.rows_quarantined and report.version == 2
    held = ingest.read_quarantine(world.sessions, actor, SB).to_pydict()
    by_row = {row: i for i, row in enumerate(held["_row"])}
    assert sorted(by_row) == [2, 3]  # data rows, counted from 1 after the header
    amount, date = by_row[2], by_row[3]
    assert (held["_rule"][amount], held["jfje"][amount]) == ("type:jfje", "十元")  # kept as it came
    assert (held["_reason_zh"][amount], held["_reason_en"][amount]) == ("不是合法的数值", "does not parse as decimal")
    assert (held["_rule"][date], held["jfrq"][date]) == ("standardize:jfrq", "2024-02-30")
    assert (held["_reason_zh"][date], held["_reason_en"][date]) == standardize.REASONS["date_unparsed"]
    assert ingest.read_current(world.sessions, actor, SB).to_pydict()["xm"] == ["张三"]


def test_an_empty_file_is_refused_and_a_header_only_file_is_an_empty_version(v1, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world, actor = v1
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    error = _refused(world, actor, str(empty))
    assert isinstance(error, DataFormatError) and error.details == {"file": str(empty)}
    _says(error, "empty.csv", "0")
    _nothing_changed(world, error="data_format_error")
    # Uploaded, it is named as uploaded, never by its temporary path on the server.
    uploaded = _api_error(_upload(client, world.token("hrss"), SB, b""), 422, "data_format_error")
    assert uploaded["details"] == {"file": "x.csv"} and "x.csv" in uploaded["message_en"]
    _nothing_changed(world, error="data_format_error")
    # A header and no rows says "nothing this period", which a department may publish: a new, empty version
    # that keeps the resource's fields, with the previous one still there to roll back to.
    header_only = csv_file(tmp_path / "header.csv", [])
    header_only.write_bytes(header_only.read_bytes().rstrip(b"\n") + b"\n")
    report = ingest.ingest(world.sessions, actor, SB, str(header_only))
    assert (report.version, report.rows_in, report.rows_accepted, report.rows_quarantined) == (2, 0, 0, 0)
    current = ingest.read_current(world.sessions, actor, SB)
    assert current.num_rows == 0 and current.column_names == ["xm", "sfzh", "xb", "jfrq", "jfje"]
    with unit_of_work(world.sessions) as db:
        ingest.rollback(db, actor, SB, 1)
    assert ingest.read_current(world.sessions, actor, SB).num_rows == 1


def test_a_database_that_refuses_the_connection(v1) -> None:  # type: ignore[no-untyped-def]
    world, actor = v1
    error = _refused(world, actor, "postgresql+psycopg://postgres@127.0.0.1:1/test", table="jf")
    assert isinstance(error, SourceUnreachable) and error.code == "source_unreachable"
    assert error.details["host"] == "127.0.0.1:1"
    _says(error, "127.0.0.1:1")
    _nothing_changed(world, error="source_unreachable")


@pytest.mark.skipif(not POSTGRES_URL, reason="needs the local PostgreSQL: set SHENGJING_TEST_POSTGRES_URL")
def test_a_database_table_that_does_not_exist(v1) -> None:  # type: ignore[no-untyped-def]
    world, actor = v1
    error = _refused(world, actor, POSTGRES_URL, table="no_such_table")
    assert isinstance(error, DataFormatError) and error.code == "data_format_error"
    url = make_url(POSTGRES_URL)
    assert error.details == {"table": "no_such_table", "host": f"{url.host}:{url.port}"}
    _says(error, "no_such_table", f"{url.host}:{url.port}")
    _nothing_changed(world, error="data_format_error")


def _upload(client, token: str, code: str, body: bytes):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"}
    return client.post(f"/api/v1/resources/{code}/ingest?filename=x.csv", content=body, headers=headers)


def _api_error(answer, status: int, code: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    assert error["code"] == code and error["message_zh"] and error["message_en"]
    return error


def test_a_resource_code_that_does_not_exist(  # type: ignore[no-untyped-def]
    v1, client, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    world, actor = v1
    good = csv_file(tmp_path / "good.csv", [ROW])
    with pytest.raises(NotFound) as info:
        ingest.ingest(world.sessions, actor, "NO-SUCH", str(good))
    assert info.value.details == {"kind": "resource", "key": "NO-SUCH"}
    _says(info.value, "NO-SUCH")
    error = _api_error(_upload(client, world.token("hrss"), "NO-SUCH", good.read_bytes()), 404, "not_found")
    assert error["details"]["key"] == "NO-SUCH" and "NO-SUCH" in error["message_en"]
    # The command line, through the entry point `python -m shengjing` runs (in this process: starting another
    # costs seconds): its exit code says "not found", its message says it in both languages.
    for name in [n for n in os.environ if n.startswith("SHENGJING_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SHENGJING_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SHENGJING_VAR_DIR", str(settings.var_dir))
    monkeypatch.setattr(sys, "argv", ["shengjing", "ingest", str(good), "--resource", "NO-SUCH"])
    with pytest.raises(SystemExit) as exit:
        cli.main()
    assert exit.value.code == NotFound.exit_code
    said = capsys.readouterr().err
    assert "找不到数据资源：NO-SUCH" in said and "No resource 'NO-SUCH'" in said
    with world.db() as db:
        events = db.scalars(select(AuditEvent).where(AuditEvent.target_id == "NO-SUCH")).all()
    assert [(e.outcome, e.details["error"]) for e in events] == [("failed", "not_found")] * 3
    _nothing_changed(world, error="not_found", target="NO-SUCH")


def test_an_upload_by_a_department_that_does_not_own_the_resource(v1, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world, _ = v1
    good = csv_file(tmp_path / "good.csv", [ROW])
    police = world.principal("police")  # shared on conditions: the police may see SB-0001, not write to it
    with pytest.raises(PermissionDenied) as info:
        ingest.ingest(world.sessions, police, SB, str(good))
    assert info.value.details == {"permission": "catalog.resource.ingest"}
    _says(info.value, "catalog.resource.ingest")
    _nothing_changed(world, outcome="denied", error="permission_denied")
    error = _api_error(_upload(client, world.token("police"), SB, good.read_bytes()), 403, "permission_denied")
    assert error["details"] == {"permission": "catalog.resource.ingest"}
    _nothing_changed(world, outcome="denied", error="permission_denied")


def test_an_upload_over_the_size_limit(v1, client) -> None:  # type: ignore[no-untyped-def]
    world, _ = v1
    body = ("xm,sfzh,xb,jfrq,jfje\n" + ",".join(ROW) + "\n").encode() * (UPLOAD_LIMIT // 40)
    assert len(body) > UPLOAD_LIMIT
    error = _api_error(_upload(client, world.token("hrss"), SB, body), 422, "invalid_input")
    assert error["details"] == {"file": "x.csv"}
    assert str(UPLOAD_LIMIT) in error["message_zh"] and str(UPLOAD_LIMIT) in error["message_en"]
    _nothing_changed(world, error="invalid_input")  # nothing spooled is left in var/uploads
