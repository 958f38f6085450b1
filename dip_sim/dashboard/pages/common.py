"""Pieces shared by the pages: the no-data message, scenario picker and tables."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

import pandas as pd
import streamlit as st

from dip_sim.dashboard import data
from dip_sim.dashboard import format as fmt


def show_unavailable(exc: data.DataUnavailable) -> None:
    """Show why the page has no data (missing warehouse or table, or a running simulation)."""
    st.info(exc.message, icon=":material/info:")
    if exc.detail:
        st.caption(exc.detail)


def guarded(render: Callable[[], None]) -> Callable[[], None]:
    """Wrap a page's ``render`` so that unreadable data shows a message, not a traceback."""

    @functools.wraps(render)
    def wrapper() -> None:
        try:
            render()
        except data.DataUnavailable as exc:
            show_unavailable(exc)

    return wrapper


def hospital_mode_note() -> None:
    """In hospital-user mode, say that only the own hospital is shown."""
    hospital_id = data.hospital_scope()
    if hospital_id:
        st.caption(f"医院用户模式：仅显示本院（{hospital_id}）的数据。")


def scenario_label(row: pd.Series) -> str:
    """``baseline（说明）`` for a row of :func:`data.scenarios`."""
    desc = row.get("description")
    if isinstance(desc, str) and desc.strip():
        return f"{row['scenario']}（{desc.strip()}）"
    return str(row["scenario"])


def scenario_select(
    key: str,
    label: str = "情景",
    exclude: Iterable[str] = (),
    scenarios: pd.DataFrame | None = None,
) -> str:
    """A selectbox of the simulated scenarios (baseline preselected); the chosen name.

    When the scenarios were simulated for more than one year, a 年度 selectbox (key
    ``{key}_year``) comes first and the scenarios are those of the chosen year; it starts on
    the latest year that has a baseline. Raises DataUnavailable when no scenario has been
    simulated.
    """
    every = data.scenarios() if scenarios is None else scenarios
    table = every[~every["scenario"].isin(set(exclude))]
    if table.empty:
        raise data.DataUnavailable(data.NO_RESULTS_MESSAGE)
    table = _year_select(key, table, every)
    names = [str(s) for s in table["scenario"]]
    labels = {str(r["scenario"]): scenario_label(r) for _, r in table.iterrows()}
    index = names.index(data.BASELINE) if data.BASELINE in names else 0
    return st.selectbox(label, names, index=index, format_func=labels.get, key=key)


def _year_select(key: str, table: pd.DataFrame, every: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``table`` of the year picked in a 年度 selectbox; all of them (and no
    selectbox) when they are of one year. ``every`` (before exclusions) tells which year has
    the baseline."""
    years = sorted({int(y) for y in table["year"].dropna()}, reverse=True)
    if len(years) < 2:
        return table
    baseline_years = {int(y) for y in every.loc[every["scenario"] == data.BASELINE, "year"]
                      .dropna()}
    default = next((y for y in years if y in baseline_years), years[0])
    year = st.selectbox("年度", years, index=years.index(default), key=f"{key}_year")
    return table[table["year"] == year]


def run_caption(scenario: str, scenarios: pd.DataFrame | None = None) -> None:
    """One line under the scenario picker: description, simulation year, run time and the base
    whose results it reuses; a warning when those results were replaced since (stale)."""
    table = data.scenarios() if scenarios is None else scenarios
    rows = table[table["scenario"] == scenario]
    if rows.empty:
        return
    row = rows.iloc[0]
    parts = []
    if isinstance(row.get("description"), str) and row["description"]:
        parts.append(row["description"])
    if pd.notna(row.get("year")):
        parts.append(f"模拟年度 {int(row['year'])}")
    if isinstance(row.get("history_years"), str) and row["history_years"]:
        parts.append(f"历史数据年度 {row['history_years']}")
    if pd.notna(row.get("run_at")):
        parts.append(f"运行时间 {pd.Timestamp(row['run_at']):%Y-%m-%d %H:%M}")
    if isinstance(row.get("base"), str) and row["base"]:
        parts.append(f"未受参数改动影响的阶段沿用情景 {row['base']} 的结果")
    if parts:
        st.caption(" · ".join(parts))
    if bool(row.get("stale")):
        year = f"--year {int(row['year'])} " if pd.notna(row.get("year")) else ""
        st.warning(f"情景 {scenario} 的基础情景 {row['base']} 在其运行之后重新模拟过，本情景的结果已过期"
                   f"（部分表已是 {row['base']} 的新结果）：请运行 dip-sim simulate {year}--stale")


def show_table(df: pd.DataFrame, columns: list[str], height: int | None = None,
               table_name: str | None = None, helps: dict[str, str] | None = None) -> None:
    """``df`` as a table with Chinese headers and labels (see :func:`format.for_display`;
    ``table_name``: the stored table whose labels the columns take; ``helps``: column →
    tooltip of its header). Missing values (and figures suppressed for a hospital user) show
    as "—", with the reason under the table when some were suppressed; an empty table says so."""
    if df.empty:
        st.caption("（无数据）")
        return
    table = fmt.for_display(df, columns, table_name)
    # amounts and points with thousands separators; the values stay numbers, so they sort
    config: dict = {col: st.column_config.NumberColumn(format="localized")
                    for col in table.columns if pd.api.types.is_float_dtype(table[col])}
    for col, text in (helps or {}).items():
        config[fmt.header(col, table_name)] = st.column_config.Column(help=text)
    if height is None:
        st.dataframe(table, hide_index=True, column_config=config, placeholder=MISSING)
    else:
        st.dataframe(table, hide_index=True, height=height, column_config=config,
                     placeholder=MISSING)
    if "suppressed" in df.columns and df["suppressed"].fillna(False).astype(bool).any():
        st.caption(data.suppressed_note())


def nothing_to_draw(*series: pd.Series) -> bool:
    """True when every value of ``series`` is 0 or missing: a chart would be empty axes."""
    return all(pd.to_numeric(s, errors="coerce").fillna(0).eq(0).all() for s in series)


def show_table_or_note(df: pd.DataFrame, columns: list[str], empty_note: str,
                       caption: str | None = None) -> None:
    """``df`` as a table (with ``caption`` above it), or ``empty_note`` when it has no rows."""
    if df.empty:
        st.info(empty_note)
        return
    if caption:
        st.caption(caption)
    show_table(df, columns)


def hospital_label(row: pd.Series) -> str:
    """``医院名称（三级，H001）`` for a row holding hospital_id, hospital_name, level."""
    name = row.get("hospital_name")
    name = name if isinstance(name, str) and name else row["hospital_id"]
    return f"{name}（{fmt.level_label(row.get('level'))}，{row['hospital_id']}）"


def hospital_labels(hospitals: pd.DataFrame | None = None) -> dict[str, str]:
    """hospital_id → ``医院名称（三级，H001）`` for a hospital picker (the reader's hospitals)."""
    table = data.hospitals() if hospitals is None else hospitals
    return {str(r["hospital_id"]): hospital_label(r) for _, r in table.iterrows()}


MISSING = "—"  # how a table shows a missing (or suppressed) value, not "None"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def excel_download(make: Callable[[], bytes], state_key: str, button: str, button_key: str,
                   download: str, file_name: str, download_key: str,
                   spinner: str = "正在生成…") -> None:
    """An Excel file made on request (``button``), then offered for download (``download``);
    the bytes are kept in the session under ``state_key``, so the page's reruns do not make
    it again."""
    if st.button(button, key=button_key):
        with st.spinner(spinner):
            st.session_state[state_key] = make()
    if state_key in st.session_state:
        st.download_button(download, st.session_state[state_key], file_name=file_name,
                           mime=XLSX_MIME, key=download_key)
