"""Pooling regions (统筹区): the stage graph runs once per region, over that region's data.

DIP is computed per pooling region: each has its own catalogue, budget and point value, and a
region's results never depend on another's data. A hospital names its region in the hospital
table (``region``, ``region_name``); a city whose hospitals name none is one region, named by
``data/policy/regions.yaml``. A case belongs to the region of its hospital.

:func:`in_each_region` is the one loop over the regions: for each it shadows the input tables
the models read (``hospitals``, ``cases``, ``settlements``, ``case_features``,
``case_status``, ``quality_findings``) with temp views of that region's rows, so the models'
SQL stays as it is and reads only the region's data; the results are stored under the region's
code (:func:`dip_sim.pipeline.run.store`). A city of one region reads its tables unchanged (no
views), so its results are those of a run before regions existed. The same per-region unit
is what a distributed engine partitions on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import duckdb

from dip_sim.paths import POLICY_DIR
from dip_sim.policy.parameters import SETTINGS_SECTIONS, load_baseline
from dip_sim.sql_text import quoted

# the input tables a region's run reads only its own rows of, and how a row is tied to a
# hospital: directly (hospital_id) or through its case (case_id, via case_features)
SCOPED: dict[str, str] = {
    "hospitals": "hospital_id", "cases": "hospital_id", "case_features": "hospital_id",
    "case_status": "hospital_id", "settlements": "case_id", "quality_findings": "case_id",
}
# the temp table of the hospitals of the region being run
SCOPE_TABLE = "run_region_hospitals"


class RegionError(ValueError):
    """The hospitals' regions cannot be read; the message names the file, row and field."""


@dataclass(frozen=True)
class Region:
    """One pooling region: its code (the ``region`` of the result tables) and name."""

    code: str
    name: str


def default_region(day: dt.date | None = None) -> Region:
    """The one region of a city whose hospitals name none (``data/policy/regions.yaml``)."""
    params = load_baseline(POLICY_DIR, settings=True)
    section = SETTINGS_SECTIONS[0]
    day = day or dt.date.today()
    return Region(str(params[f"{section}.default_code"].value_on(day)),
                  str(params[f"{section}.default_name"].value_on(day)))


def _where(rows: Sequence[tuple], limit: int = 5) -> str:
    shown = "；".join(f"{file} 第 {row} 行" for file, row, *_ in rows[:limit])
    return shown + (f" 等 {len(rows)} 行" if len(rows) > limit else "")


def regions(con: duckdb.DuckDBPyConnection) -> list[Region]:
    """The warehouse's regions, by code; the default region alone when no hospital names one.

    Refused (:class:`RegionError`) when some hospitals name a region and others do not, or
    when one code has two names: each such hospital is named by its file and row.
    """
    rows = con.execute("""
        SELECT source_file, source_row, hospital_id, nullif(trim(region), ''),
               nullif(trim(region_name), '')
        FROM hospitals ORDER BY source_file, source_row""").fetchall()
    named = [r for r in rows if r[3] is not None]
    if not named:
        unread = [r for r in rows if r[4] is not None]
        if unread:
            raise RegionError(f"医院表字段 region（统筹区编码）为空而填写了统筹区名称：{_where(unread)}；"
                              "请补填统筹区编码")
        return [default_region()]
    missing = [r for r in rows if r[3] is None]
    if missing:
        raise RegionError(f"医院表字段 region（统筹区编码）为空，无法确定所属统筹区：{_where(missing)}"
                          f"（其他 {len(named)} 家医院填写了统筹区）；请补填后重新载入")
    names: dict[str, set[str]] = {}
    for r in named:
        names.setdefault(r[3], set()).add(r[4] or r[3])
    clash = [r for r in named if len(names[r[3]]) > 1]
    if clash:
        raise RegionError(f"统筹区编码 {clash[0][3]} 对应多个名称 {sorted(names[clash[0][3]])}，"
                          f"字段 region_name：{_where(clash)}")
    return [Region(code, next(iter(names[code]))) for code in sorted(names)]


def unattached(con: duckdb.DuckDBPyConnection) -> int:
    """Input rows of no region's hospital (a hospital missing from the hospital table, or a
    settlement without its case): every region's run leaves them out; quality flags them."""
    return con.execute("SELECT count(*) FROM case_features WHERE hospital_id IS NULL OR "
                       "hospital_id NOT IN (SELECT hospital_id FROM hospitals)").fetchall()[0][0]


def _database(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("SELECT current_database()").fetchall()[0][0]


@contextlib.contextmanager
def scoped(con: duckdb.DuckDBPyConnection, region: Region, every: Sequence[Region]
           ) -> Iterator[None]:
    """Within the block, the input tables read only ``region``'s rows (temp views shadowing
    them), when the warehouse has more than one region; dropped at the end."""
    if len(every) <= 1:
        yield
        return
    db = _database(con)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {SCOPE_TABLE} AS SELECT hospital_id "
                f'FROM "{db}".main.hospitals WHERE trim(region) = ?', [region.code])
    made = []
    try:
        for table, key in SCOPED.items():
            if key == "hospital_id":
                where = f"hospital_id IN (SELECT hospital_id FROM {SCOPE_TABLE})"
            else:  # by the case, through the region's case_features (made before)
                where = "case_id IN (SELECT case_id FROM temp.main.case_features)"
            con.execute(f'CREATE OR REPLACE TEMP VIEW {table} AS SELECT * FROM "{db}".main.{table} '
                        f"WHERE {where}")
            made.append(table)
        yield
    finally:
        for table in reversed(made):
            con.execute(f"DROP VIEW IF EXISTS temp.main.{table}")
        con.execute(f"DROP TABLE IF EXISTS temp.main.{SCOPE_TABLE}")


def in_each_region(con: duckdb.DuckDBPyConnection, only: Sequence[str] | None = None,
                   progress=print) -> Iterator[Region]:
    """Each region of the warehouse (``only``: these codes), with the input tables scoped to
    it while the caller's loop body runs: the one loop over regions of a run."""
    every = regions(con)
    if len(every) > 1:
        left = unattached(con)
        if left:
            progress(f"  {left:,} 条病例或结算不属于任何统筹区的医院（医院表中没有其医疗机构，"
                     "或结算没有病例），未纳入各统筹区的计算；质控结果 unknown_hospital 等列出每一条")
    known = {r.code for r in every}
    unknown = [c for c in only or () if c not in known]
    if unknown:
        raise RegionError(f"仓库中没有统筹区 {', '.join(unknown)}（现有：{', '.join(sorted(known))}）")
    for region in every:
        if only is not None and region.code not in only:
            continue
        with scoped(con, region, every):
            yield region


@contextlib.contextmanager
def results_in_region(con: duckdb.DuckDBPyConnection, region: str | None) -> Iterator[str | None]:
    """Within the block, the result tables (and ``runs``) hold only ``region``'s rows: temp
    views shadow them, so a report made for one region reads them as those of a city. Yields
    the region (None: the warehouse has one region, nothing is shadowed). Refused when the
    warehouse has several regions and none is named, or when it has not the one named."""
    from dip_sim.contract import CONTRACTS

    there = [r[0] for r in con.execute("SELECT DISTINCT region FROM runs ORDER BY 1").fetchall()]
    if region is None and len(there) <= 1:
        yield None
        return
    if region is None:
        raise RegionError(f"仓库中有多个统筹区（{', '.join(map(str, there))}）：各统筹区分别测算，"
                          "请用 --region 指定统筹区编码")
    if region not in there:
        raise RegionError(f"仓库中没有统筹区 {region} 的模拟结果（现有：{', '.join(map(str, there))}）")
    db = _database(con)
    stored = {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main' "
        "UNION SELECT view_name FROM duckdb_views() WHERE database_name = ? "
        "AND schema_name = 'main'", [db, db]).fetchall()}
    made = []
    try:
        for table, contract in CONTRACTS.items():
            if contract.scenario_keyed and table in stored:
                con.execute(f'CREATE OR REPLACE TEMP VIEW {table} AS SELECT * '
                            f'FROM "{db}".main.{table} WHERE region = {quoted(region)}')
                made.append(table)
        yield region
    finally:
        for table in made:
            con.execute(f"DROP VIEW IF EXISTS temp.main.{table}")


def check_named(named: Mapping[str, Sequence[str]], every: Sequence[Region], where: str) -> None:
    """Refuse parameter values set for a region the warehouse does not have (``named``: region
    code → the parameters set for it; ``where``: the policy files or the scenario)."""
    known = {r.code for r in every}
    for code, names in sorted(named.items()):
        if code not in known:
            raise RegionError(f"{where}为统筹区 {code} 设定了参数 {', '.join(sorted(names))}，"
                              f"但仓库中没有该统筹区（现有：{', '.join(sorted(known))}）")
