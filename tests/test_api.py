"""The 预分组 API: its answers equal what ``simulate`` gave (a whole simulation year of the
planted test city), the contract of each endpoint, API keys (hashed at rest, 401/403, revoked),
isolation between hospitals, 422 naming the field, 429, and the 结算清单's Chinese names."""

from __future__ import annotations

import dataclasses
import json

import polars as pl
import pytest
from fastapi.testclient import TestClient

from dip_sim.access import access_settings
from dip_sim.api import app as api_app
from dip_sim.api.app import create_app
from dip_sim.api.grouper import Grouper
from dip_sim.api.keys import add_key, check_key, list_keys, revoke_key
from tests.inputs import query


@pytest.fixture(scope="module")
def grouper(planted_city):
    g = Grouper(planted_city["db"])
    yield g
    g.close()


@pytest.fixture(scope="module")
def year_rows(planted_city) -> pl.DataFrame:
    """The 2020 discharges of the city as its input files hold them: case record + settlement."""
    folder = planted_city["truth"].parent
    cases = pl.read_csv(folder / "cases_2020.csv", infer_schema=False)
    settlements = pl.read_csv(folder / "settlements_2020.csv", infer_schema=False)
    return cases.join(settlements, on="case_id", how="inner")


@pytest.fixture(scope="module")
def hospitals(planted_city) -> dict[int, str]:
    """A hospital of each level: level → hospital_id."""
    rows = query(planted_city["db"], "SELECT level, min(hospital_id) FROM hospitals GROUP BY level")
    return dict(rows)


@pytest.fixture()
def keys_file(tmp_path):
    return tmp_path / "api_keys.json"


@pytest.fixture()
def client(planted_city, grouper, keys_file):
    return TestClient(create_app(planted_city["db"], keys_file=keys_file, grouper=grouper))


def _discharge(row: dict, **changes) -> dict:
    out = {k: v for k, v in row.items() if v not in (None, "")}
    out.update(changes)
    return out


def test_every_case_of_the_year_equals_simulate(planted_city, grouper, year_rows):
    """Group, points and band of every 2020 discharge = case_groups / case_scores."""
    expected = pl.DataFrame(query(planted_city["db"], """
        SELECT g.case_id, g.group_code, s.case_points, s.outlier
        FROM case_groups g LEFT JOIN case_scores s USING (scenario, case_id)
        WHERE g.scenario = 'baseline' AND g.year = 2020
          AND coalesce(s.outlier, '') NOT IN ('special', 'ungrouped')"""),
        schema=["case_id", "group_code", "case_points", "outlier"], orient="row")
    got = grouper.group(year_rows).select("case_id", "group_code", "case_points", "outlier")
    both = expected.join(got, on="case_id", how="inner", suffix="_api")
    assert both.height >= 0.95 * expected.height  # every case with both its records
    assert both.height > 15_000
    diff = both.filter((pl.col("group_code").ne_missing(pl.col("group_code_api")))
                       | (pl.col("outlier").ne_missing(pl.col("outlier_api")))
                       | ((pl.col("case_points") - pl.col("case_points_api")).abs() > 1e-9))
    assert diff.height == 0, diff.head(5)
    assert got.filter(pl.col("group_code").is_not_null()).height > 0.9 * got.height


def test_single_answer_contract(client, keys_file, year_rows, planted_city):
    row = year_rows.row(0, named=True)
    token, _ = add_key(row["hospital_id"], keys_file)
    answer = client.post("/v1/group", json=_discharge(row), headers={"X-API-Key": token})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    stored = query(planted_city["db"], """
        SELECT g.group_code, g.group_type, g.rule, s.case_points, s.outlier
        FROM case_groups g JOIN case_scores s USING (scenario, case_id)
        WHERE scenario = 'baseline' AND case_id = ?""", [row["case_id"]])[0]
    assert (body["group_code"], body["group_type"], body["rule"]) == stored[:3]
    assert body["case_points"] == pytest.approx(stored[3], rel=1e-12)
    assert body["outlier"] == stored[4]
    assert body["group_type_zh"] in ("核心病种", "综合病种")
    assert body["outlier_zh"] in ("正常", "费用超低", "费用超高", "极端异常")
    pv = query(planted_city["db"], "SELECT pv_settlement_yuan FROM point_values "
                                   "WHERE scenario = 'baseline'")[0][0]
    # the year 2020 is cleared: the settlement point value
    assert body["point_value_kind"] == "settlement" and body["point_value_yuan"] == pytest.approx(pv)
    assert body["expected_payment_yuan"] == pytest.approx(round(stored[3] * pv, 2))
    assert body["group_name"] and body["findings"] == [] and body["quality_status"] == "ok"


def test_settlement_list_names_are_accepted(client, keys_file, year_rows):
    """The 结算清单's Chinese names, read through ingest's header mapping."""
    row = year_rows.row(1, named=True)
    token, _ = add_key(row["hospital_id"], keys_file)
    plain = client.post("/v1/group", json=_discharge(row), headers={"X-API-Key": token}).json()
    chinese = {"清单流水号": row["case_id"], "定点医疗机构代码": row["hospital_id"],
               "性别": row["sex"], "年龄": row["age_years"], "入院时间": row["admit_date"],
               "出院时间": row["discharge_date"], "实际住院天数": row["los_days"],
               "离院方式": row["discharge_disposition"], "主要诊断疾病代码": row["main_dx"],
               "主要手术及操作代码": row["main_proc"], "结算日期": row["settle_date"],
               "医疗费总额": row["total_cost_yuan"], "医保统筹基金支付": row["fund_paid_yuan"]}
    if row["other_procs"]:
        chinese["other_procs"] = row["other_procs"]
    answer = client.post("/v1/group", json={k: v for k, v in chinese.items() if v},
                         headers={"X-API-Key": token})
    assert answer.status_code == 200, answer.text
    assert answer.json()["group_code"] == plain["group_code"]
    assert answer.json()["case_points"] == pytest.approx(plain["case_points"])


def test_quality_findings_are_those_of_the_quality_stage(client, keys_file, year_rows):
    row = year_rows.row(2, named=True)
    token, _ = add_key(row["hospital_id"], keys_file)
    # fund paid above the total cost: critical (not grouped); a 5-day stay said to be 9 days
    bad = _discharge(row, fund_paid_yuan=float(row["total_cost_yuan"]) + 100, los_days=99)
    body = client.post("/v1/group", json=bad, headers={"X-API-Key": token}).json()
    rules = {f["rule"] for f in body["findings"]}
    assert {"fund_exceeds_total", "los_mismatch"} <= rules
    assert body["quality_severity"] == "critical" and body["grouped"] is False
    assert body["group_code"] is None and body["rule"].startswith("未入组")


def test_batch_json_and_csv(client, keys_file, year_rows, grouper):
    hospital = year_rows["hospital_id"][0]
    rows = year_rows.filter(pl.col("hospital_id") == hospital).head(50)
    token, _ = add_key(hospital, keys_file)
    as_json = client.post("/v1/group:batch", json=[_discharge(r) for r in rows.to_dicts()],
                          headers={"X-API-Key": token})
    assert as_json.status_code == 200, as_json.text
    body = as_json.json()
    assert body["n"] == 50 and [r["case_id"] for r in body["results"]] == rows["case_id"].to_list()
    direct = grouper.group(rows)
    assert [r["group_code"] for r in body["results"]] == direct["group_code"].to_list()
    as_csv = client.post("/v1/group:batch", content=rows.write_csv().encode("utf-8"),
                         headers={"X-API-Key": token, "Content-Type": "text/csv"})
    assert as_csv.status_code == 200, as_csv.text
    assert [r["group_code"] for r in as_csv.json()["results"]] == direct["group_code"].to_list()


def test_a_field_in_another_form_is_read_as_ingest_reads_it(grouper, year_rows):
    """ICU time written 天/小时/分钟 under the 结算清单's 重症监护合计时长 is read as ingest
    reads a file's: the same answers as 1/13/24 = 24 + 13 + 24/60 = 37.4 hours given as the
    contract's icu_hours (a value it could not read would refuse the request)."""
    rows = year_rows.head(40).with_columns(pl.lit(None, pl.String).alias("icu_days"))
    hours = rows.with_columns(pl.lit("37.4").alias("icu_hours"))
    written = rows.with_columns(pl.lit("1/13/24").alias("重症监护合计时长"))
    assert grouper.group(written).equals(grouper.group(hours))


def test_batches_sent_at_once_run_on_their_own_groupers(planted_city, grouper, year_rows):
    """Two groupers answer two batches at the same time, each as one grouper alone does."""
    import concurrent.futures

    from dip_sim.api.grouper import GrouperPool

    pool = GrouperPool(planted_city["db"], groupers=[grouper, Grouper(planted_city["db"])])
    batches = [year_rows.slice(i * 300, 300) for i in range(4)]
    alone = [grouper.group(b) for b in batches]
    with concurrent.futures.ThreadPoolExecutor(2) as threads:
        together = list(threads.map(pool.group, batches))
    assert all(a.equals(t) for a, t in zip(alone, together, strict=True))
    assert pool.health()["workers"] == 2
    pool.groupers[1].close()


def test_batch_size_limit(client, keys_file, year_rows, monkeypatch):
    row = year_rows.row(0, named=True)
    token, _ = add_key(row["hospital_id"], keys_file)
    limit = access_settings().api_batch_max
    many = [_discharge(row, case_id=f"c{i}") for i in range(limit + 1)]
    answer = client.post("/v1/group:batch", json=many, headers={"X-API-Key": token})
    assert answer.status_code == 422 and str(limit) in answer.json()["detail"]


def test_keys_are_hashed_at_rest_and_revocable(client, keys_file, year_rows):
    row = year_rows.row(0, named=True)
    token, key = add_key(row["hospital_id"], keys_file)
    stored = keys_file.read_text(encoding="utf-8")
    assert token not in stored and key.key_id in stored
    assert json.loads(stored)[0]["sha256"] != token and len(json.loads(stored)[0]["sha256"]) == 64
    assert check_key(token, keys_file).hospital_id == row["hospital_id"]
    assert check_key(token + "x", keys_file) is None
    assert [k.key_id for k in list_keys(keys_file)] == [key.key_id]
    ok = client.get("/v1/catalog", headers={"X-API-Key": token})
    assert ok.status_code == 200
    assert client.get("/v1/catalog", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("/v1/catalog").status_code == 401
    assert client.get("/v1/catalog", headers={"X-API-Key": "nope"}).status_code == 401
    revoke_key(key.key_id, keys_file)
    refused = client.get("/v1/catalog", headers={"X-API-Key": token})
    assert refused.status_code == 401 and "密钥" in refused.json()["detail"]


def test_a_key_cannot_group_for_another_hospital(client, keys_file, year_rows, hospitals):
    row = year_rows.row(0, named=True)
    other = next(h for h in hospitals.values() if h != row["hospital_id"])
    token, _ = add_key(other, keys_file)
    answer = client.post("/v1/group", json=_discharge(row), headers={"X-API-Key": token})
    assert answer.status_code == 403 and row["hospital_id"] in answer.json()["detail"]
    batch = client.post("/v1/group:batch", json=[_discharge(row)], headers={"X-API-Key": token})
    assert batch.status_code == 403


def test_a_key_sees_its_own_levels_points_only(client, keys_file, hospitals, planted_city):
    code, rw = query(planted_city["db"], """
        SELECT group_code, rw FROM catalog_groups
        WHERE scenario = 'baseline' AND NOT primary_group ORDER BY n_cases DESC LIMIT 1""")[0]
    coefficients = dict(query(planted_city["db"], "SELECT level, coefficient_in_force "
                                                  "FROM level_coefficients WHERE scenario = 'baseline'"))
    seen = {}
    for level, hospital in hospitals.items():
        token, _ = add_key(hospital, keys_file)
        body = client.get(f"/v1/groups/{code}", headers={"X-API-Key": token}).json()
        assert body["level"] == level
        assert body["level_coefficient"] == pytest.approx(coefficients[level])
        assert body["points_at_level"] == pytest.approx(rw * coefficients[level])
        # no per-group statistics beyond the published catalogue fields (small cells)
        assert not {"n_cases", "mean_cost_yuan", "share_level1", "share_level2", "share_level3",
                    "median_cost_yuan", "cv"} & set(body)
        seen[level] = body["points_at_level"]
    assert len(set(seen.values())) > 1  # the levels differ, each key got its own
    missing = client.get("/v1/groups/NOPE", headers={"X-API-Key": token})
    assert missing.status_code == 404


def test_bad_input_is_refused_naming_the_field(client, keys_file, year_rows):
    row = year_rows.row(0, named=True)
    token, _ = add_key(row["hospital_id"], keys_file)
    headers = {"X-API-Key": token}
    bad_date = client.post("/v1/group", json=_discharge(row, discharge_date="2020-13-45"),
                           headers=headers)
    assert bad_date.status_code == 422 and "discharge_date" in bad_date.json()["detail"]
    no_cost = {k: v for k, v in _discharge(row).items() if k != "total_cost_yuan"}
    refused = client.post("/v1/group", json=no_cost, headers=headers)
    assert refused.status_code == 422 and "total_cost_yuan" in refused.json()["detail"]
    no_dates = {k: v for k, v in _discharge(row).items() if k not in ("admit_date", "main_dx")}
    detail = client.post("/v1/group", json=no_dates, headers=headers).json()["detail"]
    assert "admit_date" in detail and "main_dx" in detail
    assert "--mapping" not in detail and "/docs" in detail  # the API's fix, not a file's
    nested = client.post("/v1/group", json=_discharge(row, main_dx={"x": 1}), headers=headers)
    assert nested.status_code == 422 and "main_dx" in nested.json()["detail"]
    not_list = client.post("/v1/group:batch", json={"a": 1}, headers=headers)
    assert not_list.status_code == 422 and "数组" in not_list.json()["detail"]


def test_rate_limit_answers_429_with_retry_after(planted_city, grouper, keys_file, year_rows,
                                                 monkeypatch):
    limited = dataclasses.replace(access_settings(), api_requests_per_minute=3)
    monkeypatch.setattr(api_app, "access_settings", lambda: limited)
    client = TestClient(create_app(planted_city["db"], keys_file=keys_file, grouper=grouper))
    token, _ = add_key(year_rows["hospital_id"][0], keys_file)
    codes = [client.get("/v1/catalog", headers={"X-API-Key": token}).status_code
             for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    last = client.get("/v1/catalog", headers={"X-API-Key": token})
    assert last.status_code == 429 and 1 <= int(last.headers["Retry-After"]) <= 60
    other, _ = add_key(year_rows["hospital_id"][0], keys_file)  # another key: its own budget
    assert client.get("/v1/catalog", headers={"X-API-Key": other}).status_code == 200


def test_rate_limiter_window():
    limiter = api_app.RateLimiter(2)
    assert limiter.wait_seconds("k", now=0.0) == 0
    assert limiter.wait_seconds("k", now=10.0) == 0
    assert limiter.wait_seconds("k", now=20.0) == 40  # the first leaves the window at 60
    assert limiter.wait_seconds("k", now=60.5) == 0


def test_catalogue_search_and_health(client, keys_file, year_rows, planted_city):
    token, _ = add_key(year_rows["hospital_id"][0], keys_file)
    headers = {"X-API-Key": token}
    code = query(planted_city["db"], "SELECT min(group_code) FROM catalog_groups "
                                     "WHERE scenario = 'baseline' AND group_type = 'core'")[0][0]
    by_code = client.get("/v1/catalog", params={"q": code[:5]}, headers=headers).json()
    assert by_code and all(code[:5].lower() in e["group_code"].lower()
                           or code[:5].lower() in e["group_name"].lower() for e in by_code)
    name = by_code[0]["group_name"]
    word = name[:2]
    by_name = client.get("/v1/catalog", params={"q": word}, headers=headers).json()
    assert by_name and all(word in e["group_name"] or word in e["group_code"] for e in by_name)
    assert set(by_code[0]) == {"group_code", "group_type", "group_type_zh", "group_name", "rw"}
    health = client.get("/v1/health").json()
    assert health["status"] == "ok" and health["year"] == 2020 and health["scenario"] == "baseline"
    n = query(planted_city["db"], "SELECT count(*) FROM catalog_groups WHERE scenario = 'baseline'")
    assert health["n_groups"] == n[0][0]


def test_openapi_has_chinese_field_descriptions(client):
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert "主要诊断" in schema["Discharge"]["properties"]["main_dx"]["description"]
    assert "入组路径" in schema["GroupAnswer"]["properties"]["rule"]["description"]
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/group", "/v1/group:batch", "/v1/groups/{code}", "/v1/catalog",
            "/v1/health"} <= set(paths)


def test_a_key_id_never_reads_as_a_command_line_option(tmp_path, monkeypatch):
    """A key's id is its token's prefix, typed after ``dip-sim users revoke-key``: a token
    beginning with '-' (one in 64) is drawn again."""
    from dip_sim.api import keys

    drawn = iter(["-" + "a" * 42, "b" * 43])
    monkeypatch.setattr(keys.secrets, "token_urlsafe", lambda n: next(drawn))
    token, key = keys.add_key("H9", tmp_path / "keys.json")
    assert token == "b" * 43 and not key.key_id.startswith("-")


def test_users_command_manages_keys(tmp_path, monkeypatch, capsys):
    from dip_sim.cli import main

    path = tmp_path / "keys.json"
    monkeypatch.setenv("DIP_SIM_API_KEYS", str(path))
    assert main(["users", "add-key", "--hospital", "H9"]) == 0
    token = capsys.readouterr().out.strip()
    assert len(token) >= 40 and token not in path.read_text(encoding="utf-8")
    assert main(["users", "list-keys"]) == 0
    listing = capsys.readouterr().out
    assert "H9" in listing and token not in listing and "有效" in listing
    key_id = listing.split()[0]
    assert main(["users", "revoke-key", key_id]) == 0
    assert check_key(token, path) is None
    assert main(["users", "add-key"]) == 1  # no hospital


def test_the_warehouse_is_read_only_and_let_go(planted_city, tmp_path):
    """Started, the server holds no lock on the file (a batch simulate may write it); a file
    being written is refused with a Chinese message, not a traceback."""
    import shutil
    import subprocess
    import sys

    from dip_sim.api.grouper import GrouperError

    db = tmp_path / "w.duckdb"
    shutil.copy(planted_city["db"], db)
    g = Grouper(db)
    try:
        writer = subprocess.run([sys.executable, "-c", f"import duckdb; duckdb.connect(r'{db}')"
                                 ".execute('CREATE TABLE x AS SELECT 1')"],
                                capture_output=True, text=True, timeout=60)
        assert writer.returncode == 0, writer.stderr
    finally:
        g.close()
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, time; "
                               f"c = duckdb.connect(r'{db}'); print('open', flush=True); "
                               "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        holder.stdout.readline()
        with pytest.raises(GrouperError, match="无法只读打开仓库"):
            Grouper(db)
    finally:
        holder.kill()
        holder.wait()


def test_scenarios_with_adjustments_related_procedures_and_auxiliary_typing(
        planted_city, year_rows, tmp_path):
    """The per-case models a baseline skips (the panel's conservative-procedure and merge
    adjustments, related procedures with partial keys, auxiliary sub-types) run per request
    too: the answers equal the stored results of such scenarios."""
    import shutil

    from dip_sim.paths import SCENARIO_DIR
    from pipelines.simulate import run_simulate

    db = tmp_path / "w.duckdb"
    shutil.copy(planted_city["db"], db)
    related = tmp_path / "related_aux.yaml"
    related.write_text("name: related_aux\ndescription: 主手术+相关手术，启用辅助分型\nchanges:\n"
                       "  catalog.procedure_key: main_plus_related\n  auxiliary.enabled: true\n",
                       encoding="utf-8")
    run_simulate(db, 2020, scenario_files=[SCENARIO_DIR / "panel_adjustments.yaml", related],
                 progress=lambda message: None)
    for scenario in ("panel_adjustments", "related_aux"):
        expected = pl.DataFrame(query(db, """
            SELECT g.case_id, g.group_code, s.case_points, s.outlier, s.aux_type
            FROM case_groups g LEFT JOIN case_scores s USING (scenario, case_id)
            WHERE g.scenario = ? AND g.year = 2020
              AND coalesce(s.outlier, '') NOT IN ('special', 'ungrouped')""", [scenario]),
            schema=["case_id", "group_code", "case_points", "outlier", "aux_type"], orient="row")
        g = Grouper(db, scenario)
        try:
            got = g.group(year_rows).select("case_id", "group_code", "case_points", "outlier",
                                            "aux_type", "rule")
        finally:
            g.close()
        both = expected.join(got, on="case_id", how="inner", suffix="_api")
        assert both.height > 15_000
        diff = both.filter((pl.col("group_code").ne_missing(pl.col("group_code_api")))
                           | (pl.col("outlier").ne_missing(pl.col("outlier_api")))
                           | (pl.col("aux_type").ne_missing(pl.col("aux_type_api")))
                           | ((pl.col("case_points") - pl.col("case_points_api")).abs() > 1e-9))
        assert diff.height == 0, (scenario, diff.head(5))
        if scenario == "related_aux":  # the models ran: some partial keys, some sub-types
            assert got["aux_type"].drop_nulls().len() > 0
            assert got.filter(pl.col("rule").str.contains("个手术操作匹配到核心病种")).height > 0
        else:
            assert both.filter(pl.col("group_code") == "K80.0").height == 0  # merged away
