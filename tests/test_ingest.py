"""Ingest and quality: bad input named by file, row and field; nothing lost; repeatable."""

from __future__ import annotations

import hashlib
import hmac
import os

import duckdb
import polars as pl
import pytest

from dip_sim.cli import main as cli_main
from dip_sim.ingest import IngestError
from dip_sim.ingest import load as load_module
from dip_sim.ingest.pseudonym import pseudonym
from dip_sim.schema import CASE_COLUMNS, SETTLEMENT_COLUMNS
from pipelines import run_all
from pipelines.ingest import run_ingest
from tests.inputs import case_row, settlement_row, write_csv, write_inputs

QUIET = lambda message: None  # noqa: E731


def _good(n: int = 3, year: int = 2019):
    cases = [case_row(f"g{i}", "H1", f"{year}-03-0{i + 1}", "K35.300", ("47.0901",))
             for i in range(n)]
    settlements = [settlement_row(f"g{i}", f"{year}-03-0{i + 1}", 1000, 800) for i in range(n)]
    return cases, settlements


def _status(db):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {r[0]: r[1:] for r in con.execute(
            "SELECT case_id, status, severity, reason FROM case_status").fetchall()}
    finally:
        con.close()


def _query(db, sql, params=()):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_reingest_adds_nothing(tmp_path):
    cases, settlements = _good()
    src = write_inputs(tmp_path / "in", cases, settlements)
    db = tmp_path / "w.duckdb"
    run_ingest(src, db, progress=QUIET)
    counts = _query(db, "SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM settlements),"
                        " (SELECT count(*) FROM hospitals), (SELECT count(*) FROM case_status)")
    again = run_ingest(src, db, progress=QUIET)
    assert {f["status"] for f in again.files} == {"unchanged"}
    forced = run_ingest(src, db, force=True, progress=QUIET)
    # 3 hospitals, 3 cases and 3 settlements read again, none new
    assert forced.total("rows_loaded") == 0 and forced.total("rows_duplicate") == 9
    assert _query(db, "SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM settlements),"
                      " (SELECT count(*) FROM hospitals), (SELECT count(*) FROM case_status)") \
        == counts == [(3, 3, 3, 3)]


def test_missing_column_refuses_the_file_and_loads_the_rest(tmp_path, capsys):
    cases, settlements = _good()
    src = write_inputs(tmp_path / "in", cases, settlements)
    columns = [c.name for c in CASE_COLUMNS if c.name != "main_dx"]
    write_csv(src / "cases_extra.csv", columns, [case_row("x1", "H1", "2019-04-01", "K35.300")])
    db = tmp_path / "w.duckdb"
    code = cli_main(["ingest", str(src), "--db", str(db)])
    assert code == 2
    err = capsys.readouterr().err
    assert "cases_extra.csv" in err and "main_dx" in err
    assert _query(db, "SELECT count(*) FROM cases") == [(3,)]
    refused = _query(db, "SELECT file_path, reason, outcome FROM load_errors")
    assert refused[0][0] == "cases_extra.csv" and "main_dx" in refused[0][1]
    assert refused[0][2] == "file_refused"


def test_non_numeric_cost_named_by_file_row_field(tmp_path):
    cases, settlements = _good()
    settlements[1]["total_cost_yuan"] = "abc"
    db = tmp_path / "w.duckdb"
    run_ingest(write_inputs(tmp_path / "in", cases, settlements), db, progress=QUIET)
    errors = _query(db, "SELECT file_path, row_number, field, value, outcome FROM load_errors")
    assert errors == [("settlements.csv", 3, "total_cost_yuan", "abc", "value_cleared")]
    status, severity, reason = _status(db)["g1"]
    assert (status, severity) == ("cost_not_positive", "critical")
    assert "settlements.csv 第 3 行" in reason and "total_cost_yuan" in reason and "abc" in reason
    assert _status(db)["g0"][0] == "ok"  # the good rows load


def test_unparseable_date_named_by_file_row_field(tmp_path):
    cases, settlements = _good()
    cases[2]["admit_date"] = "2019-13-45"
    db = tmp_path / "w.duckdb"
    run_ingest(write_inputs(tmp_path / "in", cases, settlements), db, progress=QUIET)
    status, severity, reason = _status(db)["g2"]
    assert (status, severity) == ("dates_invalid", "critical")
    assert "cases.csv 第 4 行" in reason and "admit_date" in reason and "2019-13-45" in reason


def test_discharge_before_admission_is_critical(tmp_path):
    cases, settlements = _good()
    cases[0]["admit_date"] = "2019-04-01"
    db = tmp_path / "w.duckdb"
    run_ingest(write_inputs(tmp_path / "in", cases, settlements), db, progress=QUIET)
    assert _status(db)["g0"][:2] == ("discharge_before_admit", "critical")


def test_duplicate_case_with_different_content(tmp_path):
    cases, settlements = _good()
    same = dict(cases[0])
    changed = dict(cases[1], main_dx="J18.000")
    # the same content once standardised (code case, spaces): also a repeat, not a conflict
    variant = dict(cases[2], main_dx=" k35.300 ")
    db = tmp_path / "w.duckdb"
    summary = run_ingest(write_inputs(tmp_path / "in", [*cases, same, changed, variant],
                                      settlements), db, progress=QUIET)
    status = _status(db)
    assert status["g0"][0] == "ok"  # the same content twice is one case
    assert status["g2"][0] == "ok"
    assert status["g1"][:2] == ("duplicate_case", "critical")
    assert "cases.csv 第 3 行" in status["g1"][2] and "cases.csv 第 6 行" in status["g1"][2]
    assert len(status) == 3
    # 6 case rows read: 4 stored (g0, g1 twice, g2), 2 repeats
    cases_file = next(f for f in summary.files if f["file_path"] == "cases.csv")
    assert (cases_file["rows_read"], cases_file["rows_loaded"], cases_file["rows_duplicate"]) \
        == (6, 4, 2)
    assert _query(db, "SELECT kind, case_id FROM duplicate_keys") == [("cases", "g1")]


def test_conflict_across_batches_and_files(tmp_path):
    cases, settlements = _good()
    db = tmp_path / "w.duckdb"
    run_ingest(write_inputs(tmp_path / "a", cases, settlements), db, progress=QUIET)
    # a later batch: g0 again unchanged, g1 with another diagnosis, both in two new files
    later = [dict(cases[0]), dict(cases[1], main_dx="J18.000")]
    src = tmp_path / "b"
    write_csv(src / "cases_resent.csv", CASE_COLUMNS, later)
    write_csv(src / "cases_more.csv", CASE_COLUMNS, later)
    summary = run_ingest(src, db, progress=QUIET)
    assert summary.total("rows_loaded") == 1  # only g1's new content, once
    status = _status(db)
    assert status["g0"][0] == "ok" and status["g2"][0] == "ok"
    assert status["g1"][:2] == ("duplicate_case", "critical")
    assert _query(db, "SELECT kind, case_id FROM duplicate_keys") == [("cases", "g1")]


def test_a_new_version_of_a_file_replaces_its_rows(tmp_path):
    cases, settlements = _good()
    db = tmp_path / "w.duckdb"
    run_ingest(write_inputs(tmp_path / "v1", cases, settlements), db, progress=QUIET)
    # the hospital sends cases.csv again: g1 corrected, g2 left out
    fixed = [dict(cases[0]), dict(cases[1], main_dx="J18.000")]
    summary = run_ingest(write_inputs(tmp_path / "v2", fixed, settlements), db, progress=QUIET)
    info = next(f for f in summary.files if f["file_path"] == "cases.csv")
    assert info["rows_replaced"] == 1 and "替换早先版本" in info["message"]
    rows = dict(_query(db, "SELECT case_id, main_dx FROM cases"))
    assert rows == {"g0": "K35.300", "g1": "J18.000", "g2": "K35.300"}  # newer wins, g2 kept
    assert {s[0] for s in _status(db).values()} == {"ok"}


def test_orphans_are_kept_with_a_status(tmp_path):
    cases, settlements = _good()
    cases.append(case_row("nos", "H1", "2019-05-01", "K35.300"))
    settlements.append(settlement_row("nocase", "2019-05-02", 500, 400))
    db = tmp_path / "w.duckdb"
    run_ingest(write_inputs(tmp_path / "in", cases, settlements), db, progress=QUIET)
    status = _status(db)
    assert status["nos"][:2] == ("no_settlement", "critical")
    assert status["nocase"][:2] == ("no_case_record", "critical")
    assert "settlements.csv 第 5 行" in status["nocase"][2]


def test_cases_meet_their_settlements_whatever_the_years(tmp_path):
    """case_features is joined a year at a time (quality.status.feature_parts); a case settled
    in another year, a settlement without a date and a key with two contents meet their other
    half in the last part: the table is the one join of every case with every settlement."""
    from dip_sim.quality.status import (
        dup_keys_sql,
        features_select_sql,
        find_unmatched_keys,
        unmatched_keys_sql,
        verdicts_sql,
        worst_sql,
    )

    cases = [case_row("cross", "H1", "2019-12-30", "K35.300", ("47.0901",)),
             case_row("same", "H1", "2019-03-01", "K35.300", ("47.0901",)),
             case_row("caseonly", "H1", "2019-05-01", "K35.300"),
             case_row("nodate", "H1", "2020-02-01", "K35.300"),
             case_row("twice", "H1", "2019-06-01", "K35.300"),
             case_row("twice", "H1", "2019-06-01", "J18.000")]
    settlements = [settlement_row("cross", "2020-01-03", 1000, 800),
                   settlement_row("same", "2019-03-02", 2000, 1500),
                   settlement_row("setonly", "2020-04-01", 500, 400),
                   settlement_row("nodate", "", 700, 600),
                   settlement_row("setonly_nodate", "", 300, 200),
                   settlement_row("twice", "2020-01-05", 900, 700)]
    db = tmp_path / "w.duckdb"
    lines: list[str] = []
    run_ingest(write_inputs(tmp_path / "in", cases, settlements), db, progress=lines.append)
    # each part is told as it ends
    parts = [line.split(" (")[0].strip() for line in lines if "病例特征" in line]
    assert parts == ["病例特征：2019 年", "病例特征：2020 年", "病例特征：跨年度、无年度或多版本的病例"]
    con = duckdb.connect(str(db))
    try:
        stored = con.execute(
            "SELECT case_id, year, has_case, has_settlement, total_cost_yuan, status "
            "FROM case_features ORDER BY case_id").fetchall()
        # the whole join at once, with the verdicts quality found
        con.execute(dup_keys_sql())
        whole = verdicts_sql(f"({features_select_sql()})", f"({worst_sql('quality_findings')})")
        assert con.execute(f"SELECT * FROM case_features EXCEPT ALL {whole}").fetchall() == []
        assert con.execute(f"{whole} EXCEPT ALL SELECT * FROM case_features").fetchall() == []
        # the records without their other half: the same a year at a time as all at once
        find_unmatched_keys(con)
        by_year = con.execute("SELECT * FROM unmatched_keys ORDER BY ALL").fetchall()
        cross = con.execute("SELECT case_id FROM cross_year_keys ORDER BY 1").fetchall()
        con.execute(unmatched_keys_sql())
        assert by_year == con.execute("SELECT * FROM unmatched_keys ORDER BY ALL").fetchall()
    finally:
        con.close()
    assert stored == [
        ("caseonly", 2019, True, False, None, "no_settlement"),
        ("cross", 2019, True, True, 1000, None),
        ("nodate", 2020, True, True, 700, None),
        ("same", 2019, True, True, 2000, None),
        ("setonly", 2020, False, True, 500, "no_case_record"),
        ("setonly_nodate", None, False, True, 300, "no_case_record"),
        ("twice", 2019, True, True, 900, "duplicate_case"),
    ]
    assert by_year == [("caseonly", True, False), ("setonly", False, True),
                       ("setonly_nodate", False, True)]
    assert cross == [("cross",), ("nodate",), ("setonly_nodate",), ("twice",)]


def test_case_features_store_their_nearly_unique_texts_with_zstd(tmp_path):
    """case_features keeps the case number and the pseudonym as quality declares
    (FEATURES_COMPRESSION), the other texts as DuckDB chooses."""
    from dip_sim.quality.status import FEATURES_COMPRESSION

    db = tmp_path / "w.duckdb"
    run_ingest(write_inputs(tmp_path / "in", *_good(9)), db, progress=QUIET)
    con = duckdb.connect(str(db))
    con.execute("CHECKPOINT")
    stored = dict(con.execute(
        "SELECT DISTINCT column_name, lower(compression) FROM pragma_storage_info('case_features') "
        "WHERE column_name IN ('case_id', 'patient_id', 'dx5') AND segment_type = 'VARCHAR'"
    ).fetchall())
    assert stored["case_id"] == FEATURES_COMPRESSION["case_id"] == "zstd"
    assert stored["patient_id"] == "zstd" and stored["dx5"] != "zstd"


def test_codes_standardised_and_mapped(tmp_path):
    cases, settlements = _good(5)
    cases[0].update(main_dx=" k35.800X001 ", main_proc="47.0901 ", other_procs="bad.99;88.7600")
    cases[1].update(main_dx="A01.000x002", other_dx="j18.000;;Q99.999x999")
    # spaces around the list and its codes; the same list written two ways in one file
    cases[2].update(other_dx=" I10.X00 ; e11.900 ", main_proc="", other_procs=" 47.0901")
    cases[3].update(other_dx="I10.x00;E11.900", main_proc=None, other_procs="47.0901")
    cases[4].update(other_dx="  ", main_proc=" ", other_procs=" ; ")
    db = tmp_path / "w.duckdb"
    run_ingest(write_inputs(tmp_path / "in", cases, settlements), db, progress=QUIET)
    rows = {r[0]: r[1:] for r in _query(
        db, "SELECT case_id, main_dx, other_dx, main_proc, other_procs FROM cases")}
    assert rows["g0"] == ("K35.800x001", None, "47.0901", "bad.99;88.7600")
    assert rows["g1"][:2] == ("A01.003", "J18.000;Q99.999x999")  # ZD_MAP: A01.000x002 → A01.003
    assert rows["g2"][1:] == rows["g3"][1:] == ("I10.x00;E11.900", None, "47.0901")
    assert rows["g4"][1:] == (None, None, None)
    status = _status(db)
    assert status["g0"][:2] == ("proc_invalid", "warning")  # the case is still grouped
    assert "bad.99" in status["g0"][2]
    assert status["g1"][:2] == ("other_dx_invalid", "warning")
    keys = dict(_query(db, "SELECT case_id, proc_key_all FROM case_features"))
    assert keys["g0"] == "47.0901+88.7600"  # the invalid code is left out of the key
    assert keys["g2"] == keys["g3"] == "47.0901" and keys["g4"] == ""
    # a procedure with no main procedure: recorded, still grouped
    assert status["g2"][:2] == status["g3"][:2] == ("main_proc_missing", "warning")
    assert status["g4"][0] == "ok"


def test_warnings_are_recorded(tmp_path):
    cases, settlements = _good(5)
    cases[0]["los_days"] = 9  # dates say 3
    cases[1].update(main_dx="O80.000", sex=1)  # delivery coded for a man
    cases[2].update(main_dx="P07.300", age_years=30)  # perinatal diagnosis at 30
    settlements[3]["drug_yuan"] = 50  # parts now sum to 1050 against 1000
    db = tmp_path / "w.duckdb"
    run_ingest(write_inputs(tmp_path / "in", cases, settlements), db, progress=QUIET)
    status = _status(db)
    assert status["g0"][:2] == ("los_mismatch", "warning")
    assert status["g1"][:2] == ("dx_sex_conflict", "warning")
    assert status["g2"][:2] == ("dx_age_conflict", "warning")
    assert status["g3"][:2] == ("cost_breakdown_mismatch", "warning")
    assert status["g4"][0] == "ok"


def test_each_new_rule_finds_its_case(tmp_path):
    cases, settlements = _good(9)
    settlements[0].update(fund_paid_yuan=1200, patient_paid_yuan=-200)  # fund > total 1000
    settlements[1]["patient_paid_yuan"] = 150  # 800 + 150 ≠ 1000
    cases[2].update(main_proc="47.0901", other_procs="88.7600;47.0901")  # 47.0901 twice
    cases[3].update(age_years=0, age_days=5, birth_weight_g="")  # newborn without weight
    cases[4].update(age_years=0, age_days="")  # under one year, no age in days
    cases[5]["los_days"] = 0
    cases[6]["discharge_disposition"] = 7
    cases[7]["main_dx"] = "W01.x00"  # an external cause as main diagnosis
    db = tmp_path / "w.duckdb"
    run_ingest(write_inputs(tmp_path / "in", cases, settlements), db, progress=QUIET)
    status = _status(db)
    expected = {"g0": ("fund_exceeds_total", "critical"),
                "g1": ("payment_split_mismatch", "warning"),
                "g2": ("proc_repeated", "warning"), "g3": ("newborn_incomplete", "warning"),
                "g4": ("newborn_incomplete", "warning"), "g5": ("los_mismatch", "warning"),
                "g6": ("disposition_invalid", "warning"),
                "g7": ("main_dx_not_allowed", "critical"), "g8": ("ok", "ok")}
    assert {k: v[:2] for k, v in status.items()} == expected
    findings = _query(db, "SELECT case_id, rule, field, value FROM quality_findings "
                          "ORDER BY case_id, rule")
    assert ("g5", "los_not_positive", "los_days", "0") in findings  # also found, lower priority
    assert ("g2", "proc_repeated", "other_procs", "47.0901") in findings
    assert ("g0", "fund_exceeds_total", "fund_paid_yuan", "1200.0") in findings


def test_a_rule_severity_comes_from_the_catalogue(tmp_path, monkeypatch):
    import shutil

    from dip_sim.quality import checks

    cases, settlements = _good()
    cases[0]["los_days"] = 9  # dates say 3: los_mismatch, a warning in the shipped catalogue
    reference = tmp_path / "reference"
    shutil.copytree(checks.REFERENCE_DIR, reference)
    catalogue = reference / "quality_rules.csv"
    catalogue.write_text(catalogue.read_text(encoding="utf-8").replace(
        "los_mismatch,warning", "los_mismatch,critical"), encoding="utf-8")
    monkeypatch.setattr(checks, "REFERENCE_DIR", reference)
    checks.load_checks.cache_clear()
    try:
        db = tmp_path / "w.duckdb"
        run_ingest(write_inputs(tmp_path / "in", cases, settlements), db, progress=QUIET)
        assert _status(db)["g0"][:2] == ("los_mismatch", "critical")
        assert _query(db, "SELECT count(*) FROM case_features WHERE eligible") == [(2,)]
    finally:
        checks.load_checks.cache_clear()


def test_patient_id_is_pseudonymised(tmp_path, monkeypatch):
    cases, settlements = _good()
    cases[1]["patient_id"] = cases[0]["patient_id"]
    db = tmp_path / "w.duckdb"
    run_ingest(write_inputs(tmp_path / "in", cases, settlements), db, progress=QUIET)
    ids = dict(_query(db, "SELECT case_id, patient_id FROM cases"))
    assert ids["g0"] == ids["g1"] != ids["g2"]
    assert all("P-" not in v and len(v) == 32 for v in ids.values())
    # HMAC-SHA256 (RFC 2104) under the key, as Python's hmac computes it, first 128 bits
    key = os.environ["DIP_SIM_PSEUDONYM_KEY"]
    expected = hmac.new(key.encode(), cases[0]["patient_id"].encode(), hashlib.sha256)
    assert ids["g0"] == expected.hexdigest()[:32] == pseudonym(key, cases[0]["patient_id"])
    monkeypatch.setenv("DIP_SIM_PSEUDONYM_KEY", "another key")
    with pytest.raises(IngestError, match="假名化密钥"):  # the warehouse's key is kept
        run_ingest(tmp_path / "in", db, force=True, progress=QUIET)
    db2 = tmp_path / "w2.duckdb"
    run_ingest(tmp_path / "in", db2, progress=QUIET)
    assert dict(_query(db2, "SELECT case_id, patient_id FROM cases"))["g0"] != ids["g0"]


def test_warehouse_of_the_earlier_pseudonym_method_is_refused(tmp_path, monkeypatch):
    cases, settlements = _good()
    db = tmp_path / "w.duckdb"
    run_ingest(write_inputs(tmp_path / "in", cases, settlements), db, progress=QUIET)
    with duckdb.connect(str(db)) as con:  # what a warehouse of the keyed-SHA-256 method holds
        con.execute("DELETE FROM warehouse_meta WHERE name = 'pseudonym_key_check'")
        con.execute("INSERT INTO warehouse_meta VALUES ('pseudonym_key_sha256', 'ab')")
    with pytest.raises(IngestError, match="HMAC-SHA256"):
        run_ingest(tmp_path / "in", db, force=True, progress=QUIET)
    # the demo pipeline keeps such a warehouse aside and builds it again from its inputs
    monkeypatch.setattr(run_all, "run_simulate", lambda *a, **k: None)
    monkeypatch.setattr(run_all, "run_supervise", lambda *a, **k: None)
    assert run_all.main(["--demo", str(tmp_path / "in"), "--db", str(db)]) == 0
    assert (tmp_path / "w.duckdb.before-hmac").exists()
    assert _query(db, "SELECT count(*) FROM cases") == [(len(cases),)]


def test_an_interrupted_demo_generation_leaves_no_half_city(tmp_path, monkeypatch):
    demo = tmp_path / "demo"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_all, "plant_gaming", interrupted)  # after the files are written
    with pytest.raises(KeyboardInterrupt):
        run_all.prepare_demo(demo, 4_000, progress=QUIET)
    assert not demo.exists()  # the next make run generates it again, rather than load a part
    monkeypatch.undo()
    demo.mkdir()  # an empty folder is filled
    run_all.prepare_demo(demo, 4_000, progress=QUIET)
    assert (demo / "hospitals.csv").exists() and (demo / "gaming_truth.csv").exists()
    assert not demo.with_name("demo.partial").exists()


def test_parquet_input(tmp_path):
    cases, settlements = _good()
    src = write_inputs(tmp_path / "in", cases, settlements)
    pl.read_csv(src / "settlements.csv", infer_schema=False).write_parquet(
        src / "settlements_2019.parquet")
    (src / "settlements.csv").unlink()
    db = tmp_path / "w.duckdb"
    run_ingest(src, db, progress=QUIET)
    assert {s[0] for s in _status(db).values()} == {"ok"}
    # bookkeeping: row_hash, key_hash, source_file, source_row, batch_id
    assert len(SETTLEMENT_COLUMNS) == len(_query(db, "DESCRIBE settlements")) - 5


def test_failed_batch_leaves_the_warehouse_as_before(tmp_path, monkeypatch):
    cases, settlements = _good()
    db = tmp_path / "w.duckdb"
    run_ingest(write_inputs(tmp_path / "a", cases, settlements), db, progress=QUIET)
    before = _query(db, "SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM load_batches),"
                        " (SELECT count(*) FROM load_errors)")
    more_cases, more_settlements = _good(3, year=2018)
    for c in more_cases:
        c["case_id"] = "n" + c["case_id"]
    for s in more_settlements:
        s["case_id"] = "n" + s["case_id"]

    settle_repeats = load_module._settle_repeats

    def crash_on_settlements(con, kind):
        if kind == "settlements":  # every file of the batch is in by now
            raise RuntimeError("simulated crash mid-batch")
        settle_repeats(con, kind)

    monkeypatch.setattr(load_module, "_settle_repeats", crash_on_settlements)
    with pytest.raises(RuntimeError, match="mid-batch"):
        run_ingest(write_inputs(tmp_path / "b", more_cases, more_settlements), db, progress=QUIET)
    after = _query(db, "SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM load_batches),"
                       " (SELECT count(*) FROM load_errors)")
    assert after == before


@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGINT"])
def test_a_killed_load_leaves_the_warehouse_as_before(tmp_path, signal_name):
    """Kill ``dip-sim ingest`` once it has loaded a file of its batch: nothing of it stays."""
    import os
    import signal
    import subprocess
    import sys

    from dip_sim.synth import generate

    db = tmp_path / "w.duckdb"
    cases, settlements = _good()
    run_ingest(write_inputs(tmp_path / "first", cases, settlements), db, progress=QUIET)
    tables = ("cases", "settlements", "hospitals", "load_batches", "load_errors",
              "duplicate_keys", "warehouse_meta")
    count_sql = "SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in tables)
    before = _query(db, count_sql)
    big = tmp_path / "big"
    # Parquet: each file is loaded as soon as it is read (CSV tables are gathered first)
    generate(big, years=(2017, 2018, 2019, 2020), cases_per_year=40_000, seed=4,
             file_format="parquet")
    proc = subprocess.Popen([sys.executable, "-m", "dip_sim.cli", "ingest", str(big),
                             "--db", str(db)], stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ))
    loaded_lines = 0
    for line in proc.stderr:  # wait until two files of the batch are in
        loaded_lines += "载入 cases" in line
        if loaded_lines == 2:
            break
    proc.send_signal(getattr(signal, signal_name))
    proc.wait(timeout=60)
    assert loaded_lines == 2 and proc.returncode != 0
    assert _query(db, count_sql) == before
    # the warehouse still works: the same batch loads in full afterwards
    summary = run_ingest(big, db, progress=QUIET)
    assert summary.total("rows_loaded") == summary.total("rows_read") - summary.total(
        "rows_rejected") > 300_000


def test_quality_tolerances_are_parameters(tmp_path):
    from dip_sim.quality import run_quality

    cases, settlements = _good()
    settlements[0]["drug_yuan"] = 0.03  # parts sum to 1000.03 against 1000
    settlements[1]["patient_paid_yuan"] = 200.03  # 800 + 200.03 against 1000
    db = tmp_path / "w.duckdb"
    run_ingest(write_inputs(tmp_path / "in", cases, settlements), db, progress=QUIET,
               quality=False)
    con = duckdb.connect(str(db))
    try:
        run_quality(con, 0.05, 0.05)  # within the baseline tolerances: both ok
        assert dict(con.execute("SELECT case_id, status FROM case_status").fetchall()) == \
            {"g0": "ok", "g1": "ok", "g2": "ok"}
        run_quality(con, 0.01, 0.01)
        assert dict(con.execute("SELECT case_id, status FROM case_status").fetchall()) == \
            {"g0": "cost_breakdown_mismatch", "g1": "payment_split_mismatch", "g2": "ok"}
    finally:
        con.close()


def test_code_changes_are_recorded_with_their_rule(tmp_path):
    cases, settlements = _good(5)
    cases[0]["main_dx"] = "Ｋ３５．３００"  # full-width
    cases[1]["main_dx"] = "K35300"  # the dot left out: only K35.300 reads so
    cases[2].update(main_dx="A01.000x002", other_dx="i10.x00")  # ZD_MAP; lower case
    cases[3]["main_proc"] = "47.0901 "  # spaces only: not a change of code
    db = tmp_path / "w.duckdb"
    src = write_inputs(tmp_path / "in", cases, settlements)
    run_ingest(src, db, progress=QUIET)
    assert dict(_query(db, "SELECT case_id, main_dx FROM cases")) == {
        "g0": "K35.300", "g1": "K35.300", "g2": "A01.003", "g3": "K35.300", "g4": "K35.300"}
    changes = _query(db, "SELECT case_id, field, given, code, rule FROM code_changes ORDER BY 1, 2")
    assert changes == [
        ("g0", "main_dx", "Ｋ３５．３００", "K35.300", "full_width"),
        ("g1", "main_dx", "K35300", "K35.300", "missing_dot"),
        ("g2", "main_dx", "A01.000x002", "A01.003", "code_map"),
        ("g2", "other_dx", "i10.x00", "I10.x00", "case"),
    ]
    run_ingest(src, db, progress=QUIET, force=True)  # read again: nothing new
    assert _query(db, "SELECT count(*) FROM code_changes") == [(4,)]


def test_code_changes_come_in_the_order_the_codes_are_written(tmp_path):
    cases, settlements = _good(1)
    cases[0].update(main_dx="k35.300", other_dx="k29.700;e11.900;i10.x00")
    db = tmp_path / "w.duckdb"
    run_ingest(write_inputs(tmp_path / "in", cases, settlements), db, progress=QUIET)
    assert _query(db, "SELECT other_dx, [(c.field, c.given) FOR c IN code_changes] FROM cases") \
        == [("K29.700;E11.900;I10.x00", [("main_dx", "k35.300"), ("other_dx", "k29.700"),
                                          ("other_dx", "e11.900"), ("other_dx", "i10.x00")])]
