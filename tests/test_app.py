"""Tests of the Streamlit dashboard (app.py and dip_sim.dashboard) on a hand-made warehouse.

The warehouse is built in ``tmp_path`` from the DDL of ``dip_sim.schema`` and holds two
scenarios (baseline, growth_8pct), three hospitals and a few cases of every outlier kind; the
settlement rows are derived from the cases so that the figures agree with each other. Each
page is rendered with ``streamlit.testing.v1.AppTest``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from dip_sim.dashboard import data, quality_data
from dip_sim.dashboard import format as fmt
from dip_sim.schema import OUTPUT_DDL, WAREHOUSE_DDL

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
PAGES = "dip_sim/dashboard/pages"
PAGE_FILES = [f"{PAGES}/{name}.py" for name in ("scenario", "compare", "hospital", "catalog", "quality")]
YEAR = 2020

HOSPITALS = [
    ("H001", "阳泉市第一人民医院", 3, "城区"),
    ("H002", "阳泉市矿区人民医院", 2, "矿区"),
    ("H003", "平定县冠山镇卫生院", 1, "平定县"),
]
# case_id, hospital, month, group_code, group_type, rw, level_coef, cost_ratio, outlier,
# case_points, total_cost_yuan, fund_paid_yuan
CASES = [
    ("C001", "H001", 1, "I21.9|00.6600", "core", 200.0, 1.0, 1.0, "none", 200.0, 20000, 16000),
    ("C002", "H001", 1, "I21.9|00.6600", "core", 200.0, 1.0, 3.5, "high", 500.0, 70000, 56000),
    ("C003", "H001", 2, "J18.9|", "core", 50.0, 1.0, 0.3, "low", 15.0, 1500, 1200),
    (
        "C004",
        "H001",
        3,
        "C34.9|32.4100",
        "comprehensive",
        400.0,
        1.0,
        6.2,
        "extreme",
        2080.0,
        248000,
        198400,
    ),
    ("C005", "H002", 1, "J18.9|", "core", 50.0, 0.9, 1.1, "none", 45.0, 5000, 4000),
    ("C006", "H002", 2, "K35.8|47.0900", "core", 80.0, 0.9, 2.2, "high", 86.4, 17600, 14080),
    ("C007", "H003", 2, "J18.9|", "core", 50.0, 0.8, 0.9, "none", 40.0, 3600, 2880),
]
# scenario: (description, pv_budget, pv_settlement)
SCENARIOS = {
    "baseline": ("基线：基金增长率 5%", 105.0, 100.0),
    "growth_8pct": ("基金增长率由 5% 提高到 8%，其余同基线", 108.0, 102.0),
}
CATALOG = [
    ("I21.9|00.6600", "core", "I21.9", "00.6600", "surgery", 40, 21000.0, 0.30, 200.0),
    ("J18.9|", "core", "J18.9", "", "conservative", 120, 5000.0, 0.40, 50.0),
    ("K35.8|47.0900", "core", "K35.8", "47.0900", "surgery", 30, 8000.0, 0.25, 80.0),
    ("C34.9|32.4100", "comprehensive", "C34.9", "32.4100", "surgery", 5, 40000.0, 0.80, 400.0),
    ("R10.4|88.0100", "comprehensive", "R10.4", "88.0100", "diagnostic", 5, 3000.0, 0.50, 30.0),
]
# case_id, year, hospital_id, status, severity, reason
CASE_STATUS = [
    *[(c[0], YEAR, c[1], "ok", "ok", "") for c in CASES],
    ("C008", YEAR, "H002", "cost_breakdown_mismatch", "warning", "费用明细合计与医疗总费用不符"),
    ("C009", YEAR, "H003", "no_settlement", "critical", "无结算记录"),
    ("C010", 2019, "H001", "ok", "ok", ""),
    ("S001", YEAR, None, "orphan_settlement", "critical", "结算记录找不到病案首页"),
]


def build_warehouse(path: Path, scenarios: dict = SCENARIOS) -> Path:
    """Create the warehouse at ``path`` with the rows above for ``scenarios``."""
    con = duckdb.connect(str(path))
    try:
        con.execute(WAREHOUSE_DDL["hospitals"])
        for ddl in OUTPUT_DDL.values():
            con.execute(ddl)
        con.executemany(
            "INSERT INTO hospitals (hospital_id, hospital_name, level, county) VALUES (?,?,?,?)",
            HOSPITALS,
        )
        # in a real warehouse a view of case_features (dip_sim.quality.status)
        con.execute("CREATE TABLE case_status (case_id VARCHAR, year INTEGER, hospital_id VARCHAR,"
                    " status VARCHAR, severity VARCHAR, reason VARCHAR)")
        con.executemany(
            "INSERT INTO case_status VALUES (?, ?, ?, ?, ?, ?)",
            [(cid, y, h, s, sev, r or None) for cid, y, h, s, sev, r in CASE_STATUS],
        )
        for scenario, (description, pv_budget, pv_settle) in scenarios.items():
            total_points = sum(c[9] for c in CASES)
            con.execute(
                "INSERT INTO point_values (scenario, year, dip_fund_yuan, fund_ratio, total_points,"
                " pv_budget_yuan, pv_settlement_yuan) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [scenario, YEAR, total_points * pv_settle, 0.8, total_points, pv_budget, pv_settle],
            )
            con.execute(
                "INSERT INTO runs (scenario, description, year, history_years, run_at) "
                "VALUES (?, ?, ?, ?, TIMESTAMP '2024-05-01 10:00:00')",
                [scenario, description, YEAR, "2017-2019"],
            )
            con.executemany(
                "INSERT INTO catalog_groups (scenario, group_code, group_type, dx_key, proc_key, "
                "proc_class, n_cases, mean_cost_yuan, cv, rw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(scenario, *g) for g in CATALOG],
            )
            con.execute(
                "INSERT INTO catalog_summary (scenario, year, procedure_key, core_threshold_method,"
                " core_threshold, n_core, n_comprehensive, core_coverage, grouping_rate_year,"
                " mean_cv, case_weighted_cv, riv) VALUES (?, ?, 'all', 'min_cases', 15, 3, 2,"
                " 0.95, 0.875, 0.45, 0.4, 0.61)", [scenario, YEAR])
            con.executemany(
                "INSERT INTO hospital_indices (scenario, year, hospital_id, n_cases, cmi, "
                "cost_index, time_index) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(scenario, YEAR, "H001", 4, 212.5, 1.2, 1.1),
                 (scenario, YEAR, "H002", 2, 65.0, 0.9, 1.0)])
            con.executemany(
                "INSERT INTO catalog_group_years (scenario, group_code, year, n_cases, mean_cost_yuan) "
                "VALUES (?, ?, ?, ?, ?)",
                [(scenario, "I21.9|00.6600", y, n, c)
                 for y, n, c in ((2017, 10, 20000.0), (2018, 12, 21000.0), (2019, 18, 21500.0))])
            con.executemany(
                "INSERT INTO case_scores (scenario, year, case_id, hospital_id, month, group_code,"
                " group_type, rw, level_coefficient, cost_ratio, outlier, case_points,"
                " total_cost_yuan, fund_paid_yuan) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(scenario, YEAR, *c) for c in CASES],
            )
            for hospital_id, *_ in HOSPITALS:
                cases = [c for c in CASES if c[1] == hospital_id]
                points = sum(c[9] for c in cases)
                dip = points * pv_settle
                ffs = sum(c[11] for c in cases)
                prepaid = 0.9 * dip
                con.execute(
                    "INSERT INTO hospital_settlement (scenario, year, hospital_id, n_cases, "
                    "total_points, dip_amount_yuan, ffs_fund_paid_yuan, diff_yuan, prepaid_yuan, "
                    "clearing_yuan) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        scenario,
                        YEAR,
                        hospital_id,
                        len(cases),
                        points,
                        dip,
                        ffs,
                        dip - ffs,
                        prepaid,
                        dip - prepaid,
                    ],
                )
                for month in sorted({c[2] for c in cases}):
                    m_cases = [c for c in cases if c[2] == month]
                    m_points = sum(c[9] for c in m_cases)
                    con.execute(
                        "INSERT INTO hospital_monthly (scenario, year, hospital_id, month, n_cases,"
                        " points, prepaid_yuan, ffs_fund_paid_yuan) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            scenario,
                            YEAR,
                            hospital_id,
                            month,
                            len(m_cases),
                            m_points,
                            0.9 * m_points * pv_settle,
                            sum(c[11] for c in m_cases),
                        ],
                    )
    finally:
        con.close()
    return path


# each case's insurance type (险种)
INSURANCE = {"C001": "employee", "C002": "resident", "C003": "employee", "C004": "resident",
             "C005": "employee", "C006": "resident", "C007": "resident"}


# baseline's 调剂金: kept back, inflow, paid out as overspend shares (growth_8pct: none
# recorded, as in results of an earlier version)
RESERVE = (15000.0, 4000.0, 2500.0)
# baseline's fund pools (split by insurance): pool, its share of the reserve, points, R,
# point value; growth_8pct has the one pool 'all' of a run without the split
POOLS = [("employee", 9000.0, 1800.0, 0.8, 104.0), ("resident", 6000.0, 1166.4, 0.8, 94.0)]


# quality findings: case_id, rule, severity, field, value, label; C005 (H002) has one too
# here (its status becomes a warning), C010 is H001's of 2019
FINDINGS = [
    ("C005", "cost_breakdown_mismatch", "warning", "total_cost_yuan", "5000",
     "费用明细合计与总费用不符"),
    ("C008", "cost_breakdown_mismatch", "warning", "total_cost_yuan", "4200",
     "费用明细合计与总费用不符"),
    ("C008", "los_mismatch", "warning", "los_days", "9", "住院天数与日期不符"),
    ("C009", "no_settlement", "critical", "case_id", "C009", "无结算记录"),
    ("C010", "dx_sex_conflict", "warning", "sex", "1", "诊断与性别不符"),
]


def add_case_details(path: Path) -> Path:
    """Add to the warehouse at ``path`` what a full pipeline also writes: the case table
    (``case_features``, with each case's 险种), the quality findings, baseline's 调剂金 and
    fund pools."""
    levels = {h[0]: h[2] for h in HOSPITALS}
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE quality_findings (case_id VARCHAR, rule VARCHAR, "
                    "severity VARCHAR, field VARCHAR, value VARCHAR, label_zh VARCHAR, "
                    "detail VARCHAR)")
        con.executemany("INSERT INTO quality_findings VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [(*f, f"{f[0]}.csv 第 2 行 {f[3]}") for f in FINDINGS])
        con.execute("UPDATE case_status SET status = 'cost_breakdown_mismatch', "
                    "severity = 'warning', reason = '费用明细合计与总费用不符' "
                    "WHERE case_id = 'C005'")
        kept, inflow, paid = RESERVE
        con.execute("UPDATE point_values SET reserve_yuan = ?, reserve_inflow_yuan = ?, "
                    "reserve_paid_yuan = ?, reserve_left_yuan = ? WHERE scenario = 'baseline'",
                    [kept, inflow, paid, kept + inflow - paid])
        con.executemany(
            "INSERT INTO point_values_by_insurance VALUES ('baseline', NULL, ?, ?, ?, ?, ?, ?, ?)",
            [(YEAR, pool, points * ratio * pv, reserve, ratio, points, pv)
             for pool, reserve, points, ratio, pv in POOLS])
        con.execute("INSERT INTO point_values_by_insurance VALUES "
                    "('growth_8pct', NULL, ?, 'all', 302572.8, 0, 0.8, 2966.4, 102.0)", [YEAR])
        con.execute("CREATE TABLE case_features (case_id VARCHAR, year INTEGER, "
                    "hospital_id VARCHAR, level INTEGER, insurance_type VARCHAR, "
                    "total_cost_yuan DECIMAL(18, 2), fund_paid_yuan DECIMAL(18, 2), "
                    "eligible BOOLEAN)")
        con.executemany("INSERT INTO case_features VALUES (?, ?, ?, ?, ?, ?, ?, TRUE)",
                        [(c[0], YEAR, c[1], levels[c[1]], INSURANCE[c[0]], c[10], c[11])
                         for c in CASES])
    return path


@pytest.fixture()
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A full warehouse, named by DIP_SIM_DB; not in hospital-user mode."""
    path = build_warehouse(tmp_path / "warehouse.duckdb")
    monkeypatch.setenv(data.ENV_DB, str(path))
    monkeypatch.delenv(data.ENV_HOSPITAL, raising=False)
    return path


BUREAU = {"name": "bureau", "role": "bureau", "hospital_id": None}


def run_app(page: str | None = None, user: dict | None = BUREAU) -> AppTest:
    """Run the app signed in as ``user`` (the bureau unless told; None: signed out), switch
    to ``page`` (a file under the project root) if given."""
    at = AppTest.from_file(APP, default_timeout=30)
    if user is not None:
        at.session_state["user"] = user
    at.run()
    if page is not None:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    """Label → shown value of every st.metric on the page."""
    return {m.label: m.value for m in at.metric}


def infos(at: AppTest) -> str:
    """The text of every st.info and st.warning on the page."""
    return "\n".join(str(e.value) for e in [*at.info, *at.warning])


# --- pages ---------------------------------------------------------------------------------


def test_overview_shows_point_values_and_hospitals(warehouse: Path) -> None:
    at = run_app()
    assert at.title[0].value == "总览"
    shown = metrics(at)
    assert shown["DIP 基金总额"] == "29.66 万元"  # 2966.4 points × 100 元
    assert shown["预算点值"] == "105.0000 元/分"
    assert shown["结算点值"] == "100.0000 元/分"
    assert shown["医保支付比例"] == "80.00%"
    assert shown["总分值"] == "2,966"
    assert shown["DIP 支付合计"] == "29.66 万元"
    assert shown["按项目付费统筹支付"] == "29.26 万元"  # 292,560 元
    assert shown["差额（DIP − 按项目付费）"] == "+4,080.00 元"
    assert len(at.get("vega_lite_chart")) == 1
    table = at.dataframe[0].value
    assert sorted(table["医院名称"]) == sorted(h[1] for h in HOSPITALS)
    assert set(table["医院等级"]) == {"三级", "二级", "一级"}
    row = table.set_index("医院名称").loc["阳泉市第一人民医院"]
    assert row["病例数"] == 4
    assert row["DIP 支付（万元）"] == pytest.approx(27.95)

    at.selectbox(key="overview_scenario").select("growth_8pct").run()
    assert not at.exception
    assert metrics(at)["DIP 基金总额"] == "30.26 万元"  # 2966.4 × 102 元


def test_compare_page(warehouse: Path) -> None:
    at = run_app(f"{PAGES}/compare.py")
    assert at.title[0].value == "情景对比"
    assert at.selectbox(key="compare_scenario").value == "growth_8pct"
    settle = next(m for m in at.metric if m.label == "结算点值")
    assert settle.value == "102.0000 元/分"
    assert settle.delta == "+2.00%"
    pv_table = at.dataframe[0].value.set_index("指标")
    assert pv_table.loc["预算点值", "基准"] == "105.0000 元/分"
    assert pv_table.loc["预算点值", "变化率"] == "+2.86%"
    hospitals = at.dataframe[1].value
    assert len(hospitals) == 3
    first = hospitals.set_index("医院名称").loc["阳泉市第一人民医院"]
    assert first["基准情景 DIP 支付（万元）"] == pytest.approx(27.95)
    assert first["变化率（%）"] == pytest.approx(2.0)


def test_compare_with_only_baseline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = build_warehouse(tmp_path / "w.duckdb", {"baseline": SCENARIOS["baseline"]})
    monkeypatch.setenv(data.ENV_DB, str(path))
    monkeypatch.delenv(data.ENV_HOSPITAL, raising=False)
    at = run_app(f"{PAGES}/compare.py")
    assert "目前只有基线情景" in infos(at)
    assert not at.dataframe


def test_hospital_page(warehouse: Path) -> None:
    at = run_app(f"{PAGES}/hospital.py")
    assert at.title[0].value == "医院"
    assert at.selectbox(key="hospital_id").options == [
        "阳泉市第一人民医院（三级，H001）",
        "阳泉市矿区人民医院（二级，H002）",
        "平定县冠山镇卫生院（一级，H003）",
    ]
    shown = metrics(at)
    assert shown["病例数"] == "4"
    assert shown["DIP 支付"] == "27.95 万元"
    groups, cases, outliers, monthly = (df.value for df in at.dataframe)
    assert list(groups["病种编码"]) == ["C34.9|32.4100", "I21.9|00.6600", "J18.9|"]
    assert list(cases["清单流水号"]) == ["C001", "C002", "C003", "C004"]  # by case id
    assert groups.set_index("病种编码").loc["I21.9|00.6600", "费用超高"] == 1
    assert list(outliers["清单流水号"]) == ["C004", "C002", "C003"]  # cost ratio descending
    assert list(outliers["费用偏差"]) == ["极端异常", "费用超高", "费用超低"]
    assert list(monthly["月份"]) == [1, 2, 3]

    at.selectbox(key="hospital_id").select("H002").run()
    assert not at.exception
    assert metrics(at)["病例数"] == "2"
    assert list(at.dataframe[1].value["清单流水号"]) == ["C005", "C006"]
    assert list(at.dataframe[2].value["清单流水号"]) == ["C006"]


def test_catalog_page(warehouse: Path) -> None:
    at = run_app(f"{PAGES}/catalog.py")
    shown = metrics(at)
    assert shown["核心病种组数"] == "3"
    assert shown["综合病种组数"] == "2"
    assert shown["核心病种病例占比"] == "95.00%"  # 190 of 200 history cases
    assert len(at.dataframe[1].value) == 5
    at.multiselect(key="catalog_group_types").select("comprehensive").run()
    table = at.dataframe[1].value
    assert set(table["病种类型"]) == {"综合病种"}
    assert len(table) == 2
    # grouping quality of the whole catalogue, a group's history years, hospitals' CMI
    assert shown["入组率（模拟年度）"] == "87.50%" and shown["RIV（R²）"] == "0.610"
    assert shown["核心病种覆盖率"] == "95.00%" and shown["平均变异系数 CV"] == "0.450"
    bands = at.dataframe[0].value  # CVs 0.30 0.40 0.25 → < 0.5; 0.80 0.50 → 0.5–1
    assert list(bands["病种组数"]) == [3, 2] and list(bands["变异系数区间"]) == ["< 0.5", "0.5–1"]
    assert "该病种没有历年数据。" in [i.value for i in at.info]  # C34.9|32.4100: no years
    assert list(at.dataframe[2].value["CMI"]) == [212.5, 65.0]
    at.multiselect(key="catalog_group_types").unselect("comprehensive").run()
    at.selectbox(key="catalog_group_years").select("I21.9|00.6600").run()
    assert list(at.dataframe[2].value["病例数"]) == [10, 12, 18]
    at.multiselect(key="catalog_proc_classes").select("conservative").run()
    at.text_input(key="catalog_code").input("j18").run()
    assert not at.exception
    table = at.dataframe[1].value
    assert list(table["病种编码"]) == ["J18.9|"]
    assert list(table["操作类别"]) == ["保守治疗"]


def test_quality_page(warehouse: Path) -> None:
    at = run_app(f"{PAGES}/quality.py")
    shown = metrics(at)
    assert shown["病例总数"] == "11"
    assert shown["正常"] == "8"
    assert shown["警告"] == "1"
    assert shown["严重"] == "2"
    summary = at.dataframe[0].value
    assert "无结算记录" in set(summary["原因示例"])
    by_hospital = at.dataframe[1].value.set_index("医院名称")
    assert by_hospital.loc["平定县冠山镇卫生院", "问题病例占比（%）"] == pytest.approx(50.0)
    at.selectbox(key="quality_year").select(2019).run()
    assert metrics(at)["病例总数"] == "1"


# --- no data, hospital-user mode, connections ---------------------------------------------------


@pytest.mark.parametrize("page", [None, *PAGE_FILES])
def test_missing_warehouse_shows_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, page: str | None
) -> None:
    monkeypatch.setenv(data.ENV_DB, str(tmp_path / "absent.duckdb"))
    at = run_app(page)
    assert "尚无模拟结果" in infos(at)


def test_warehouse_without_results_shows_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    monkeypatch.setenv(data.ENV_DB, str(path))
    for page in (None, f"{PAGES}/hospital.py"):
        assert "尚无模拟结果" in infos(run_app(page))


def test_hospital_user_sees_only_own_hospital(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(data.ENV_HOSPITAL, "H002")
    at = run_app()
    assert list(at.dataframe[0].value["医院名称"]) == ["阳泉市矿区人民医院"]
    assert metrics(at)["DIP 支付合计"] == "1.31 万元"  # own hospital only: 131.4 points × 100

    at = run_app(f"{PAGES}/compare.py")
    assert list(at.dataframe[1].value["医院名称"]) == ["阳泉市矿区人民医院"]

    at = run_app(f"{PAGES}/hospital.py")
    assert at.selectbox(key="hospital_id").options == ["阳泉市矿区人民医院（二级，H002）"]

    at = run_app(f"{PAGES}/quality.py")
    assert list(at.dataframe[1].value["医院名称"]) == ["阳泉市矿区人民医院"]
    assert metrics(at)["病例总数"] == "3"

    at = run_app(f"{PAGES}/catalog.py")
    assert list(at.dataframe[-1].value["医院名称"]) == ["阳泉市矿区人民医院"]

    # the data layer itself refuses other hospitals, whatever the page asks for
    assert data.hospital_outlier_cases("baseline", "H001").empty
    assert data.hospital_groups("baseline", "H001").empty


def test_hospital_id_is_a_parameter_not_sql(warehouse: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(data.ENV_HOSPITAL, "H001' OR '1'='1")
    assert data.hospitals().empty
    assert data.hospital_settlement("baseline").empty
    at = run_app(f"{PAGES}/hospital.py")
    assert "未找到医院" in infos(at)


def test_reads_leave_no_connection_open(warehouse: Path) -> None:
    assert list(data.point_values()["scenario"]) == ["baseline", "growth_8pct"]
    run_app(f"{PAGES}/hospital.py")
    # a writer can take the file right after a read, then its results show up
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(
            "INSERT INTO point_values (scenario, year, dip_fund_yuan, fund_ratio, total_points,"
            " pv_budget_yuan, pv_settlement_yuan) VALUES ('zz_new', 2020, 1, 0.8, 1, 1, 1)",
        )
    finally:
        con.close()
    stat = warehouse.stat()
    os.utime(warehouse, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert list(data.point_values()["scenario"]) == ["baseline", "growth_8pct", "zz_new"]


def test_warehouse_being_written_shows_message(warehouse: Path) -> None:
    data._LAST_GOOD.clear()  # nothing read before: nothing to show but the message
    writer = duckdb.connect(str(warehouse))  # as a running `dip-sim simulate` would
    try:
        at = run_app()
    finally:
        writer.close()
    assert "暂时无法读取数据仓库" in infos(at)


def _touch(path: Path) -> None:
    """A later modification time, as a writer's first write gives (the reads' cache key)."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_while_a_run_writes_the_last_complete_run_is_shown(warehouse: Path) -> None:
    before = metrics(run_app())
    writer = duckdb.connect(str(warehouse))  # a run holds the file and has written
    _touch(warehouse)
    try:
        at = run_app()
        # the same figures as before the run began, and the sidebar says they are the last run's
        assert metrics(at) == before
        warning = " ".join(str(w.value) for w in at.sidebar.warning)
        assert "上次完整运行" in warning and "2024-05-01 10:00" in warning
        assert not [i for i in at.info if "暂时无法读取" in str(i.value)]
    finally:
        writer.close()
    _touch(warehouse)
    at = run_app()  # the run is over: fresh reads, no warning
    assert not at.sidebar.warning


def test_warehouse_locked_by_another_process(warehouse: Path) -> None:
    code = (
        "import sys, duckdb\n"
        f"con = duckdb.connect({str(warehouse)!r})\n"
        "print('ready', flush=True)\n"
        "sys.stdin.read()\n"
    )
    writer = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    data._LAST_GOOD.clear()  # nothing read before: the message, not an earlier result
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        _touch(warehouse)
        with pytest.raises(data.DataUnavailable) as info:
            data.point_values()
        assert info.value.message == data.LOCKED_MESSAGE
    finally:
        writer.communicate("", timeout=30)
    assert not data.point_values().empty  # readable again once the writer is gone


def test_format_helpers() -> None:
    assert fmt.fmt_yuan(123456789) == "12,345.68 万元"
    assert fmt.fmt_yuan(980) == "980.00 元"
    assert fmt.fmt_yuan(None) == "—"
    assert fmt.fmt_signed_yuan(-20000) == "-2.00 万元"
    assert fmt.fmt_pct(0.0512, signed=True) == "+5.12%"
    assert fmt.fmt_delta_pct(float("nan")) is None
    assert fmt.label(fmt.OUTLIER_LABELS, "extreme") == "极端异常"
    assert fmt.level_label(3.0) == "三级"
    assert fmt.label(fmt.PROC_CLASS_LABELS, "surgery") == "相关手术"


def test_scenario_page_runs_a_what_if_and_saves_it(tmp_path, monkeypatch):
    # on a real (small) warehouse: the what-if runs the stages read-only
    from pipelines.simulate import run_simulate
    from tests.inputs import ingest_generated_city

    db = ingest_generated_city(tmp_path / "city", 1200, seed=5)
    run_simulate(db, 2020, progress=lambda m: None)
    monkeypatch.setenv(data.ENV_DB, str(db))
    monkeypatch.setenv("DIP_SIM_SCENARIO_DIR", str(tmp_path))
    at = run_app(f"{PAGES}/scenario.py")
    at.number_input(key="wi_growth").set_value(8.0).run()
    at.button(key="wi_run").click().run()
    assert not at.exception
    shown = metrics(at)
    base_pv = data.point_values().set_index("scenario").loc["baseline", "pv_settlement_yuan"]
    assert float(shown["结算点值（元/分）"]) > base_pv  # more fund, same points
    at.text_input(key="wi_name").input("growth_8").run()
    at.button(key="wi_save").click().run()
    saved = (tmp_path / "growth_8.yaml").read_text(encoding="utf-8")
    assert "budget.growth_rate: 0.08" in saved
    with duckdb.connect(str(db), read_only=True) as con:  # nothing written by the what-if
        assert con.execute("SELECT count(*) FROM point_values").fetchall() == [(1,)]


# --- the dashboard for three audiences ---------------------------------------------


def written(path: Path) -> None:
    """Move the file's modification time on, as a later write would (the read cache's key)."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def sidebar_captions(at: AppTest) -> list[str]:
    """The text of every caption in the sidebar."""
    return [c.value for c in at.sidebar.caption]


def test_sidebar_shows_the_last_complete_run(warehouse: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # both scenarios were run at 2024-05-01 10:00 (build_warehouse)
    assert "最近一次完整运行：2024-05-01 10:00" in sidebar_captions(run_app())
    with duckdb.connect(str(warehouse)) as con:  # a later run of one scenario
        con.execute("UPDATE runs SET run_at = TIMESTAMP '2024-06-02 08:30:00' "
                    "WHERE scenario = 'growth_8pct'")
    written(warehouse)
    assert "最近一次完整运行：2024-06-02 08:30" in sidebar_captions(run_app())
    # no warehouse: the pages say so, the sidebar has no run time and raises nothing
    monkeypatch.setenv(data.ENV_DB, str(tmp_path / "absent.duckdb"))
    at = run_app()
    assert not any(c.startswith("最近一次完整运行") for c in sidebar_captions(at))
    assert "尚无模拟结果" in infos(at)


def selectbox_keys(at: AppTest) -> list[str | None]:
    """The keys of the page's selectboxes, in page order."""
    return [s.key for s in at.selectbox]


def test_scenario_pickers_filter_by_year(warehouse: Path) -> None:
    # one simulation year: no year picker
    at = run_app()
    assert "overview_scenario_year" not in selectbox_keys(at)
    assert at.selectbox(key="overview_scenario").options == [
        "baseline（基线：基金增长率 5%）", "growth_8pct（基金增长率由 5% 提高到 8%，其余同基线）"]
    with duckdb.connect(str(warehouse)) as con:  # growth_8pct simulated for 2019 instead
        for table in ("point_values", "runs"):
            con.execute(f"UPDATE {table} SET year = 2019 WHERE scenario = 'growth_8pct'")
    written(warehouse)
    at = run_app()
    year = at.selectbox(key="overview_scenario_year")
    assert selectbox_keys(at).index("overview_scenario_year") < selectbox_keys(at).index(
        "overview_scenario")  # the year first
    assert year.options == ["2020", "2019"] and year.value == 2020  # the baseline's year
    assert at.selectbox(key="overview_scenario").options == ["baseline（基线：基金增长率 5%）"]
    year.select(2019).run()
    assert not at.exception
    assert at.selectbox(key="overview_scenario").value == "growth_8pct"
    assert metrics(at)["DIP 基金总额"] == "30.26 万元"  # 2966.4 points × 102 元
    # every page's picker has it (the hospital page's, say)
    at = run_app(f"{PAGES}/hospital.py")
    assert at.selectbox(key="hospital_scenario_year").value == 2020


@pytest.fixture()
def detailed(warehouse: Path) -> Path:
    """The warehouse with the case details of :func:`add_case_details`."""
    return add_case_details(warehouse)


def tab(at: AppTest, label: str):
    """The tab whose label starts with ``label``."""
    return next(t for t in at.tabs if t.label.startswith(label))


def test_hospital_page_filters_by_insurance_type(detailed: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_app(f"{PAGES}/hospital.py")  # H001: C001, C003 employee; C002, C004 resident
    insurance = at.selectbox(key="hospital_insurance")
    assert insurance.options == ["全部", "职工医保", "居民医保"] and insurance.value == ""
    assert list(tab(at, "病例").dataframe[0].value["清单流水号"]) == ["C001", "C002", "C003",
                                                                  "C004"]
    insurance.select("employee").run()
    assert not at.exception
    assert list(tab(at, "病例").dataframe[0].value["清单流水号"]) == ["C001", "C003"]
    groups = tab(at, "病种").dataframe[0].value
    assert list(groups["病种编码"]) == ["I21.9|00.6600", "J18.9|"]  # 200 and 15 points
    assert list(groups["病例数"]) == [1, 1]
    assert tab(at, "病种").label == "病种（2）"
    assert list(tab(at, "费用偏差").dataframe[0].value["清单流水号"]) == ["C003"]
    at.selectbox(key="hospital_insurance").select("resident").run()
    assert list(tab(at, "病例").dataframe[0].value["清单流水号"]) == ["C002", "C004"]
    # the search still applies within the type
    at.text_input(key="hospital_case_search").input("C34").run()
    assert list(tab(at, "病例").dataframe[0].value["清单流水号"]) == ["C004"]

    # a hospital user: its own cases' types only; another hospital's cases never
    monkeypatch.setenv(data.ENV_HOSPITAL, "H003")
    at = run_app(f"{PAGES}/hospital.py")
    assert at.selectbox(key="hospital_insurance").options == ["全部", "居民医保"]  # C007
    assert data.hospital_insurance_types("baseline", "H001") == []
    assert data.hospital_cases("baseline", "H001", insurance_type="employee").empty
    assert data.hospital_groups("baseline", "H001", "resident").empty


def test_hospital_page_without_case_table_has_no_insurance_filter(warehouse: Path) -> None:
    at = run_app(f"{PAGES}/hospital.py")  # results only: nothing to tell the types by
    assert "hospital_insurance" not in selectbox_keys(at)
    assert len(tab(at, "病例").dataframe[0].value) == 4


def test_overview_shows_the_reserve_and_fund_pools(detailed: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_app()
    shown = metrics(at)
    assert shown["预留调剂金"] == "1.50 万元"
    assert shown["本年流入"] == "4,000.00 元"
    assert shown["用于合理超支分担"] == "2,500.00 元"
    assert shown["年末余额"] == "1.65 万元"  # 15,000 + 4,000 − 2,500
    assert shown["职工医保结算点值"] == "104.0000 元/分"
    assert shown["居民医保结算点值"] == "94.0000 元/分"
    pools = next(d.value for d in at.dataframe if "基金池" in d.value.columns)
    assert list(pools["基金池"]) == ["职工医保", "居民医保"]
    # 1,800 points × 0.8 × 104 元 = 149,760 元; 1,166.4 × 0.8 × 94 = 87,713.28 元
    assert list(pools["DIP 基金总额（万元）"]) == [14.98, 8.77]
    assert list(pools["调剂金（万元）"]) == [0.9, 0.6]
    # a scenario without reserve figures or the split: neither section
    at.selectbox(key="overview_scenario").select("growth_8pct").run()
    headers = [h.value for h in at.subheader]
    assert "调剂金" not in headers and "职工与居民基金分池" not in headers
    assert "预留调剂金" not in metrics(at)
    # fund management is the bureau's: not in hospital mode
    monkeypatch.setenv(data.ENV_HOSPITAL, "H002")
    at = run_app()
    headers = [h.value for h in at.subheader]
    assert "调剂金" not in headers and "职工与居民基金分池" not in headers


RELATIVE_CMI = "CMI（全市平均 = 1.00）"


def test_hospital_page_shows_cmi_and_quality_findings(detailed: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_app(f"{PAGES}/hospital.py")  # H001
    cmi = next(m for m in at.metric if m.label == RELATIVE_CMI)
    # the region: (4 cases × 212.5 + 2 × 65.0) ÷ 6 = 980 ÷ 6 = 163.33; 212.5 ÷ 163.33 = 1.30
    assert cmi.value == "1.30" and cmi.delta == "+30.10%"
    assert metrics(at)["CMI（分值）"] == "212.50"
    assert "163.33" in cmi.help  # the points scale, explained in the tooltip
    cost = next(m for m in at.metric if m.label == "费用消耗指数")
    assert (cost.value, cost.delta) == ("1.2000", "+20.00%")
    assert metrics(at)["时间消耗指数"] == "1.1000"
    # H001's only finding is of 2019 (C010): none in the simulation year, no tab
    assert not any(t.label.startswith("质控问题") for t in at.tabs)

    at.selectbox(key="hospital_id").select("H002").run()
    assert not at.exception
    assert metrics(at)["CMI（分值）"] == "65.00"
    assert metrics(at)[RELATIVE_CMI] == "0.40"  # 65 ÷ 163.33
    assert next(m for m in at.metric if m.label == RELATIVE_CMI).delta == "-60.20%"
    quality = tab(at, "质控问题")
    assert quality.label == "质控问题（3）"  # C005 ×1, C008 ×2
    by_rule, findings = (d.value for d in quality.dataframe)
    assert list(by_rule["质控规则"]) == ["cost_breakdown_mismatch", "los_mismatch"]
    assert list(by_rule["问题数"]) == [2, 1] and list(by_rule["病例数"]) == [2, 1]
    assert list(by_rule["严重程度"]) == ["警告", "警告"]
    assert list(findings["清单流水号"]) == ["C005", "C008", "C008"]
    assert list(findings["字段"]) == ["total_cost_yuan", "total_cost_yuan", "los_days"]

    at.selectbox(key="hospital_id").select("H003").run()
    assert tab(at, "质控问题").label == "质控问题（1）"  # C009, critical
    assert "CMI（分值）" not in metrics(at)  # no grouped-case indices for H003

    # a hospital user: its own indices and findings, never another hospital's
    monkeypatch.setenv(data.ENV_HOSPITAL, "H002")
    at = run_app(f"{PAGES}/hospital.py")
    assert metrics(at)["CMI（分值）"] == "65.00"
    # one other hospital has indices: the region's CMI would be H001's, so not shown
    assert metrics(at)[RELATIVE_CMI] == "—"
    assert tab(at, "质控问题").label == "质控问题（3）"
    assert list(data.hospital_indices("baseline")["hospital_id"]) == ["H002"]
    assert data.hospital_indices("baseline", "H001").empty
    assert quality_data.hospital_findings_by_rule("H001", 2019).empty
    assert quality_data.hospital_findings("H003", YEAR).empty
    monkeypatch.delenv(data.ENV_HOSPITAL)
    assert list(quality_data.hospital_findings("H001", 2019)["case_id"]) == ["C010"]  # it is there


def test_compare_page_with_another_base(warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_app(f"{PAGES}/compare.py")
    base = at.selectbox(key="compare_base")
    assert base.value == "baseline" and len(base.options) == 2
    base.select("growth_8pct").run()
    assert not at.exception
    # the other scenario, now the baseline, is compared with growth_8pct
    assert at.selectbox(key="compare_scenario").value == "baseline"
    assert len(at.selectbox(key="compare_scenario").options) == 1
    assert "点值对比：growth_8pct vs baseline" in [h.value for h in at.subheader]
    settle = next(m for m in at.metric if m.label == "结算点值")
    assert settle.value == "100.0000 元/分"
    assert settle.delta == "-1.96%"  # 100 ÷ 102 − 1
    pv_table = at.dataframe[0].value.set_index("指标")
    assert pv_table.loc["预算点值", "基准"] == "108.0000 元/分"
    assert pv_table.loc["预算点值", "对比"] == "105.0000 元/分"
    assert pv_table.loc["预算点值", "变化率"] == "-2.78%"  # 105 ÷ 108 − 1
    hospitals = at.dataframe[1].value.set_index("医院名称")
    first = hospitals.loc["阳泉市第一人民医院"]  # 2,795 points at 102 and at 100 元
    assert first["基准情景 DIP 支付（万元）"] == pytest.approx(28.51)
    assert first["对比情景 DIP 支付（万元）"] == pytest.approx(27.95)
    assert first["变化（万元）"] == pytest.approx(-0.56)  # −5,590 元
    assert first["变化率（%）"] == pytest.approx(-1.96)

    # a hospital-restricted reader compares its own hospital only, whatever the base
    monkeypatch.setenv(data.ENV_HOSPITAL, "H003")
    at = run_app(f"{PAGES}/compare.py")
    at.selectbox(key="compare_base").select("growth_8pct").run()
    assert list(at.dataframe[1].value["医院名称"]) == ["平定县冠山镇卫生院"]


def test_quality_page_counts_findings_by_rule(detailed: Path) -> None:
    at = run_app(f"{PAGES}/quality.py")
    rules = next(df.value for df in at.dataframe if "质控规则" in df.value.columns)
    # every year: the critical rule first, then by findings (C005 and C008 share one rule)
    assert list(rules["质控规则"]) == ["no_settlement", "cost_breakdown_mismatch",
                                    "dx_sex_conflict", "los_mismatch"]
    row = rules.set_index("质控规则").loc["cost_breakdown_mismatch"]
    assert (row["问题数"], row["病例数"], row["医院数"]) == (2, 2, 1)
    at.selectbox(key="quality_year").select(2019).run()
    rules = next(df.value for df in at.dataframe if "质控规则" in df.value.columns)
    assert list(rules["质控规则"]) == ["dx_sex_conflict"]  # C010, H001's case of 2019


def test_another_process_writing_leaves_the_last_results_readable(warehouse: Path) -> None:
    before = data.point_values()
    # a run that has written new results and still holds the file
    code = (
        "import sys, duckdb\n"
        f"con = duckdb.connect({str(warehouse)!r})\n"
        "con.execute(\"INSERT INTO point_values (scenario, year) VALUES ('zz_running', 2020)\")\n"
        "print('ready', flush=True)\n"
        "sys.stdin.read()\n"
    )
    writer = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        _touch(warehouse)  # the cache cannot answer: the file is read, and it is locked
        assert data.point_values().equals(before)  # not the running one's rows
    finally:
        writer.communicate("", timeout=30)
    _touch(warehouse)
    assert "zz_running" in set(data.point_values()["scenario"])  # once the run is over


def test_only_the_bureau_sees_where_the_warehouse_is(warehouse: Path) -> None:
    assert any(c.startswith("数据仓库：") for c in sidebar_captions(run_app()))
    for user in ({"name": "h2", "role": "hospital", "hospital_id": "H002"},
                 {"name": "expert", "role": "expert", "hospital_id": None}):
        captions = sidebar_captions(run_app(user=user))
        assert not any("数据仓库" in c or str(warehouse) in c for c in captions), captions
