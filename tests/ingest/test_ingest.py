"""The data path end to end: a department's GBK CSV becomes a versioned resource; bad rows are quarantined,
nothing is lost, and a killed ingest changes nothing. Bad input of every kind: tests/ingest/test_bad_input.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow.parquet as pq

from shengjing.catalog import service as catalog
from shengjing.config import Settings
from shengjing.ingest import service as ingest
from shengjing.store.lake import Lake
from tests.ingest.conftest import GOOD, csv_file


def test_a_gbk_csv_is_standardized_checked_and_nothing_is_lost(hrss, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world, actor = hrss
    rows = [
        ("  张三 ", GOOD[0].lower(), "男", "2024/1/5", "512.30"),  # standardized: trim, X upper, 1, ISO date
        ("李四", GOOD[1], "女", "2024年2月5日", "1024"),
        ("王五", GOOD[2][:-1] + ("0" if GOOD[2][-1] != "0" else "1"), "男", "2024-03-05", "88"),  # bad check digit
        ("赵六", GOOD[1], "女", "2024-02-05", "1024"),  # duplicate key of row 2
        ("", GOOD[2], "男", "2024-03-05", "10"),  # name missing
        ("孙七", GOOD[2], "X", "2024-03-05", "10"),  # sex not in GB/T 2261.1
        ("周八", GOOD[2], "男", "2024-13-05", "10"),  # no such date
        ("吴九", GOOD[2], "女", "2024-04-05", "十元"),  # amount is not a number
    ]
    report = ingest.ingest(world.sessions, actor, "SB-0001", str(csv_file(tmp_path / "sb.csv", rows)))
    assert (report.rows_in, report.rows_accepted, report.rows_quarantined) == (8, 2, 6)
    assert report.encoding == "gb18030" and report.version == 1
    table = ingest.read_current(world.sessions, actor, "SB-0001").to_pydict()
    assert table["xm"] == ["张三", "李四"] and table["sfzh"][0] == GOOD[0].upper()
    assert table["xb"] == ["1", "2"] and [d.isoformat() for d in table["jfrq"]] == ["2024-01-05", "2024-02-05"]
    settings: Settings = world.sessions.kw["info"]["settings"]
    held = Lake(settings.lake_path).dataset("quarantine", "SB-0001").current()
    assert held is not None
    quarantine = pq.read_table(held.files[0]).to_pydict()
    assert sorted(quarantine["_row"]) == [3, 4, 5, 6, 7, 8]
    reasons = dict(zip(quarantine["_row"], quarantine["_rule"], strict=True))
    assert reasons[3] == "id_number:sfzh" and reasons[4] == "unique:sfzh+jfrq" and reasons[5] == "required:xm"
    assert reasons[6] == "standardize:xb" and reasons[7] == "standardize:jfrq" and reasons[8] == "type:jfje"
    assert quarantine["jfje"][quarantine["_row"].index(8)] == "十元"  # the raw value is kept as it came
    with world.db() as db:
        resource = catalog.get_resource(db, actor, "SB-0001")
    assert resource.current_version == 1 and resource.versions[0].rows_quarantined == 6


def test_append_and_replace(hrss, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world, actor = hrss
    first = csv_file(tmp_path / "a.csv", [("张三", GOOD[0], "男", "2024-01-05", "1")])
    second = csv_file(tmp_path / "b.csv", [("李四", GOOD[1], "女", "2024-02-05", "2")], encoding="utf-8")
    ingest.ingest(world.sessions, actor, "SB-0001", str(first))
    appended = ingest.ingest(world.sessions, actor, "SB-0001", str(second), mode="append")
    assert appended.version == 2 and ingest.read_current(world.sessions, actor, "SB-0001").num_rows == 2
    replaced = ingest.ingest(world.sessions, actor, "SB-0001", str(second))
    assert replaced.version == 3 and ingest.read_current(world.sessions, actor, "SB-0001").num_rows == 1


def test_a_killed_ingest_leaves_the_previous_version(hrss, tmp_path: Path, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    world, actor = hrss
    ingest.ingest(
        world.sessions,
        actor,
        "SB-0001",
        str(csv_file(tmp_path / "ok.csv", [("张三", GOOD[0], "男", "2024-01-05", "1")])),
    )
    big = tmp_path / "big.csv"
    with open(big, "w", encoding="utf-8") as handle:
        handle.write("xm,sfzh,xb,jfrq,jfje\n")
        for i in range(400_000):
            handle.write(f"张{i},{GOOD[i % 3]},男,2024-01-05,{i}\n")
    ready = tmp_path / "ready"
    script = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from shengjing.config import Settings
        from shengjing.identity import service as identity
        from shengjing.ingest import service as ingest
        from shengjing.store.db import make_engine, make_session_factory
        settings = Settings(_env_file=None, var_dir=Path({str(settings.var_dir)!r}),
                            database_url={settings.database_url!r})
        sessions = make_session_factory(make_engine(settings.database_url), settings)
        with sessions() as db:
            actor = identity.principal_for(identity._find_user(db, identity.system_principal("t"), "hrss"), "session")
        def progress(done, total):
            Path({str(ready)!r}).touch()
            time.sleep(60)
        ingest.ingest(sessions, actor, "SB-0001", {str(big)!r}, progress=progress)
    """).replace(
        "identity.system_principal", "__import__('shengjing.identity.principal', fromlist=['x']).system_principal"
    )
    child = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert child.poll() is None and time.monotonic() < deadline, "the ingest did not start"
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert ingest.read_current(world.sessions, actor, "SB-0001").num_rows == 1
    with world.db() as db:
        assert catalog.get_resource(db, actor, "SB-0001").current_version == 1
    next_run = ingest.ingest(
        world.sessions,
        actor,
        "SB-0001",
        str(csv_file(tmp_path / "ok2.csv", [("李四", GOOD[1], "女", "2024-02-05", "2")])),
    )
    assert next_run.rows_accepted == 1
