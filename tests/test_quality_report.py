"""The per-hospital quality report and the 病案质量指数, on a hand-computed hospital."""

from __future__ import annotations

import duckdb
import polars as pl

from dip_sim.cli import main as cli_main
from dip_sim.reports.quality import quality_tables
from pipelines.ingest import run_ingest
from tests.inputs import case_row, settlement_row, write_inputs


def _city(tmp_path):
    cases = [case_row(f"g{i}", "H1", f"2019-03-0{i + 1}", "K35.300") for i in range(4)]
    settlements = [settlement_row(f"g{i}", f"2019-03-0{i + 1}", 1000, 800) for i in range(4)]
    cases[1]["los_days"] = 9  # dates say 3: los_mismatch, a warning
    cases[2]["main_dx"] = ""  # main_dx_missing, critical
    settlements[3]["drug_yuan"] = 50  # parts 1050 against 1000: cost_breakdown_mismatch, a warning
    db = tmp_path / "w.duckdb"
    run_ingest(write_inputs(tmp_path / "in", cases, settlements), db, progress=lambda m: None)
    return db


def test_quality_index_by_hand(tmp_path):
    db = _city(tmp_path)
    con = duckdb.connect(str(db), read_only=True)
    try:
        index = quality_tables(con, 2019, (1.0, 0.25))["医院质量指数"]
        trend = quality_tables(con, 2019, (2.0, 0.5))["历年趋势"]
    finally:
        con.close()
    row = index.set_index("hospital_id").loc["H1"]
    # 4 cases, 1 passes (g0): pass rate 0.25; 1 critical finding (g2), 2 warnings (g1, g3)
    assert (row.n_cases, row.n_pass, row.n_critical_cases) == (4, 1, 1)
    assert (row.n_critical_findings, row.n_warning_findings) == (1, 2)
    assert row.pass_rate == 0.25
    # index = 100 − (1 × 1 + 0.25 × 2) ÷ 4 × 100 = 100 − 37.5 = 62.5
    assert row.quality_index == 62.5
    # weights are parameters: 2 and 0.5 → 100 − (2 + 1) ÷ 4 × 100 = 25
    assert trend.set_index("hospital_id").loc["H1"].quality_index == 25.0


def test_quality_report_command_writes_the_workbook(tmp_path, capsys):
    db = _city(tmp_path)
    out = tmp_path / "report.xlsx"
    assert cli_main(["quality-report", "--year", "2019", "--db", str(db), "--out", str(out)]) == 0
    sheets = pl.read_excel(out, sheet_id=0)
    assert list(sheets) == ["医院质量指数", "问题按规则", "医院×规则", "问题最多的病例", "历年趋势"]
    assert sheets["医院质量指数"]["病案质量指数"].to_list() == [62.5]
    assert sheets["问题最多的病例"]["清单流水号"].to_list()[0] == "g2"  # the critical one first
