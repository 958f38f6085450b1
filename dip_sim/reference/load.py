"""Load the code lists of ``data/reference/`` into ``ref_*`` tables of the warehouse.

- ``ref_dx`` / ``ref_proc``: ICD-10 / ICD-9-CM-3 医保版 2.0 codes with names; ``ref_proc`` also
  holds each procedure's class (手术操作类别) and its rank.
- ``ref_dx_lookup`` / ``ref_proc_lookup``: code key as found in a record (``code_key_sql``:
  trimmed, full-width characters made half-width, lower case) → canonical code, and the
  ``rule`` that maps it. Every list code maps to itself (``identity``); a code in
  ``ZD_MAP``/``SS_MAP`` maps to its target (``code_map``), which wins over the identity
  (a code found in ZD_MAP/SS_MAP is replaced by the code it maps to; docs/input.md); a code
  written without its dot maps to the one code it can be (``missing_dot``).
- ``ref_dx_rules``: diagnosis categories valid only for one sex or age band.
- ``ref_main_dx_excluded``: patterns (regular expressions) of codes that cannot be a main
  diagnosis, with the reason (``main_dx_excluded.csv``).

Procedure class, as ``dip_rules.md`` §2 derives it (no public table gives the classes):
an override prefix from ``proc_class_override.csv`` or the 保守治疗 list
``conservative_procedures.csv`` (class ``conservative``: left out of the key; longest prefix
wins) → in ``SS_VALID`` (operating-room) → surgery →
chapters 87–91 or subcategory ``.1x`` of chapters 01–86 → diagnostic → otherwise therapeutic.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from dip_sim.paths import REFERENCE_DIR

# Ascending order of procedure classes (dip_rules.md §2): the comprehensive group takes the
# case's highest class.
PROC_CLASSES: tuple[str, ...] = ("conservative", "diagnostic", "therapeutic", "surgery")


def _code_list_sql(path: Path) -> str:
    """SQL reading a ``code name`` .dat file (split at the first space) as (code, name)."""
    return f"""
        SELECT trim(regexp_extract(line, '^(\\S+)', 1)) AS code,
               trim(regexp_extract(line, '^\\S+\\s+(.*)$', 1)) AS name
        FROM read_csv('{path.as_posix()}', columns = {{'line': 'VARCHAR'}}, header = false,
                      delim = '\\t', quote = '', escape = '', auto_detect = false)
        WHERE trim(line) <> ''"""


# full-width ASCII (！ … ～, U+FF01–U+FF5E) and the ideographic space, and their ASCII forms
_FULL_WIDTH = "".join(chr(c) for c in range(0xFF01, 0xFF5F)) + "\u3000"
_HALF_WIDTH = "".join(chr(c) for c in range(0x21, 0x7F)) + " "


def _half_width_sql(expr: str) -> str:
    return f"translate({expr}, '{_FULL_WIDTH}', '{_HALF_WIDTH.replace(chr(39), chr(39) * 2)}')"


def code_key_sql(expr: str) -> str:
    """SQL giving the lookup key of a code as written: full-width → half-width, trimmed, lower.

    ``translate`` is slow, so only a code with a non-ASCII character (more bytes than
    characters) goes through it.
    """
    return (f"CASE WHEN strlen({expr}) = length({expr}) THEN lower(trim({expr})) "
            f"ELSE lower(trim({_half_width_sql(expr)})) END")


def change_rule_sql(given: str, lookup_rule: str) -> str:
    """SQL naming why a code as written (``given``) differs from its canonical form.

    ``code_map`` (an old or local code mapped through ZD_MAP/SS_MAP), ``missing_dot``,
    ``full_width`` (全角字符), else ``case`` (大小写).
    """
    return (f"CASE WHEN {lookup_rule} <> 'identity' THEN {lookup_rule} "
            f"WHEN strlen({given}) <> length({given}) AND {_half_width_sql(given)} <> {given} "
            f"THEN 'full_width' ELSE 'case' END")


def _pair_sql(path: Path) -> str:
    """SQL reading a ``from to`` .dat file as (given, target)."""
    return f"""
        SELECT split_part(trim(line), ' ', 1) AS given,
               split_part(regexp_replace(trim(line), '\\s+', ' ', 'g'), ' ', 2) AS target
        FROM read_csv('{path.as_posix()}', columns = {{'line': 'VARCHAR'}}, header = false,
                      delim = '\\t', quote = '', escape = '', auto_detect = false)
        WHERE trim(line) <> ''"""


def load_reference(con: duckdb.DuckDBPyConnection, reference_dir: Path = REFERENCE_DIR) -> None:
    """(Re)create the ``ref_*`` tables from the files in ``reference_dir``."""
    codes = reference_dir / "chs_codes"
    classes = ", ".join(f"('{c}', {i})" for i, c in enumerate(PROC_CLASSES))
    con.execute(f"""
        CREATE OR REPLACE TABLE ref_proc_class_rank AS
        SELECT * FROM (VALUES {classes}) AS t(proc_class, class_rank);

        CREATE OR REPLACE TABLE ref_dx AS {_code_list_sql(codes / "ZD_INFO.dat")};
        CREATE OR REPLACE TABLE ref_proc_info AS {_code_list_sql(codes / "SS_INFO.dat")};
        CREATE OR REPLACE TABLE ref_proc_valid AS {_code_list_sql(codes / "SS_VALID.dat")};
        -- the class overrides, and the 保守治疗 list as overrides to class conservative
        CREATE OR REPLACE TABLE ref_proc_override AS
        SELECT trim(prefix) AS prefix, trim(proc_class) AS proc_class, note, source
        FROM read_csv('{(reference_dir / "proc_class_override.csv").as_posix()}',
                      header = true, all_varchar = true)
        UNION ALL
        SELECT trim(prefix), 'conservative', note, source
        FROM read_csv('{(reference_dir / "conservative_procedures.csv").as_posix()}',
                      header = true, all_varchar = true);
        CREATE OR REPLACE TABLE ref_main_dx_excluded AS
        SELECT pattern, reason
        FROM read_csv('{(reference_dir / "main_dx_excluded.csv").as_posix()}',
                      header = true, all_varchar = true, quote = '"', escape = '"');
        CREATE OR REPLACE TABLE ref_dx_rules AS
        SELECT category_from, category_to, TRY_CAST(sex AS INTEGER) AS sex,
               TRY_CAST(min_age_years AS INTEGER) AS min_age_years,
               TRY_CAST(max_age_years AS INTEGER) AS max_age_years, note
        FROM read_csv('{(reference_dir / "dx_sex_age_rules.csv").as_posix()}',
                      header = true, all_varchar = true);
    """)
    bad = con.execute("""
        SELECT prefix, proc_class FROM ref_proc_override
        WHERE proc_class NOT IN (SELECT proc_class FROM ref_proc_class_rank)""").fetchall()
    if bad:
        raise ValueError(f"proc_class_override.csv: 未知的手术操作类别 {bad}")
    con.execute("""
        CREATE OR REPLACE TABLE ref_proc AS
        WITH best_override AS (
            SELECT i.code, arg_max(o.proc_class, length(o.prefix)) AS proc_class
            FROM ref_proc_info i JOIN ref_proc_override o ON starts_with(i.code, o.prefix)
            GROUP BY i.code
        ), classified AS (
            SELECT i.code, i.name,
                   CASE
                       WHEN bo.proc_class IS NOT NULL THEN bo.proc_class
                       WHEN v.code IS NOT NULL THEN 'surgery'
                       WHEN TRY_CAST(substr(i.code, 1, 2) AS INTEGER) BETWEEN 87 AND 91
                           THEN 'diagnostic'
                       WHEN TRY_CAST(substr(i.code, 1, 2) AS INTEGER) <= 86
                            AND substr(i.code, 4, 1) = '1' THEN 'diagnostic'
                       ELSE 'therapeutic'
                   END AS proc_class,
                   CASE
                       WHEN bo.proc_class IS NOT NULL THEN 'override'
                       WHEN v.code IS NOT NULL THEN 'SS_VALID'
                       ELSE 'structure'
                   END AS class_source
            FROM ref_proc_info i
            LEFT JOIN best_override bo USING (code)
            LEFT JOIN (SELECT DISTINCT code FROM ref_proc_valid) v USING (code)
        )
        SELECT c.*, r.class_rank FROM classified c JOIN ref_proc_class_rank r USING (proc_class);
    """)
    for kind, info, mapping in (("dx", "ref_dx", "ZD_MAP.dat"), ("proc", "ref_proc", "SS_MAP.dat")):
        con.execute(f"""
            CREATE OR REPLACE TABLE ref_{kind}_lookup AS
            WITH mapped AS (
                SELECT lower(m.given) AS code_key, i.code
                FROM ({_pair_sql(codes / mapping)}) m
                JOIN {info} i ON lower(i.code) = lower(m.target)
            ), exact AS (
                SELECT code_key, any_value(code) AS code,
                       -- ZD_MAP lists some codes as mapping to themselves
                       CASE WHEN code_key = lower(any_value(code)) THEN 'identity'
                            ELSE 'code_map' END AS rule
                FROM mapped GROUP BY code_key
                UNION ALL
                SELECT lower(code), code, 'identity' FROM {info}
                WHERE lower(code) NOT IN (SELECT code_key FROM mapped)
            ), dotless AS (
                -- a code written without its dot (K35300x001), where only one code reads so
                SELECT replace(code_key, '.', '') AS code_key, any_value(code) AS code,
                       'missing_dot' AS rule
                FROM exact WHERE code_key = lower(code) AND contains(code_key, '.')
                GROUP BY 1 HAVING count(*) = 1
            )
            SELECT * FROM exact
            UNION ALL
            SELECT * FROM dotless WHERE code_key NOT IN (SELECT code_key FROM exact);
        """)
