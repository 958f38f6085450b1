"""SQL turning one source file into typed, standardised rows ready to insert.

Cases: every code is looked up case-insensitively in ``ref_*_lookup`` (which applies
ZD_MAP/SS_MAP) and stored in its canonical 医保版 2.0 form; a code not found is kept as given
and listed in ``invalid_codes`` (``role:code``). While the procedures are at hand, the group-key
parts are derived too (issue 2 §3, ``dip_rules.md`` §2): ``proc_key_all`` = the valid
procedures that are not 保守治疗, distinct, sorted, joined by ``+``; ``proc_key_main`` = the
main procedure if valid and not 保守治疗; ``proc_class_max`` = the highest class of the case's
valid procedures (``conservative`` when none). The patient identifier is pseudonymised.

Everything reads the source relation directly (a Parquet scan or a CSV text table): no
intermediate copy of the file, which at 2.5M rows a file is most of the cost.
"""

from __future__ import annotations

from dip_sim.ingest.parsing import key_present_sql, typed_columns_sql
from dip_sim.ingest.pseudonym import pseudonym_sql
from dip_sim.ingest.readers import Source
from dip_sim.schema import INPUT_TABLES

DERIVED_CASE_COLUMNS: tuple[str, ...] = ("proc_key_all", "proc_key_main", "proc_class_max")


def row_hash_sql(columns: list[str]) -> str:
    """A fast fingerprint of a row's content, used to drop exact repeats within a file."""
    return f"hash({', '.join(columns)})"


def _typed_cte(kind: str, src: Source) -> str:
    return (f"SELECT {', '.join(typed_columns_sql(kind, src.sources))}, source_row "
            f"FROM {src.relation} WHERE {key_present_sql(kind, src.sources)}")


def listed_codes_sql(src: Source) -> str:
    """Temp table ``listed_codes``: other diagnoses and all procedures, one row a code.

    Materialised on its own: filtering on an unnest inside the bigger query makes DuckDB
    evaluate it again, several times slower.
    """
    return f"""
        CREATE OR REPLACE TEMP TABLE listed_codes AS
        WITH t AS ({_typed_cte("cases", src)})
        SELECT source_row AS rid, 'other_dx' AS role,
               unnest(string_split(other_dx, ';')) AS given,
               generate_subscripts(string_split(other_dx, ';'), 1) AS seq
        FROM t WHERE other_dx IS NOT NULL
        UNION ALL
        SELECT source_row, 'main_proc', main_proc, 0 FROM t WHERE main_proc IS NOT NULL
        UNION ALL
        SELECT source_row, 'other_procs', unnest(string_split(other_procs, ';')),
               generate_subscripts(string_split(other_procs, ';'), 1)
        FROM t WHERE other_procs IS NOT NULL"""


def new_cases_sql(src: Source) -> str:
    """Temp table ``new_cases``: the file's case rows standardised, with ``row_hash``.

    Reads ``listed_codes`` (see :func:`listed_codes_sql`); the file's label is the variable
    ``source_file``.
    """
    columns = [c.name for c in INPUT_TABLES["cases"]]
    plain = [c for c in columns
             if c not in ("patient_id", "main_dx", "other_dx", "main_proc", "other_procs")]
    return f"""
        CREATE OR REPLACE TEMP TABLE new_cases AS
        WITH typed AS ({_typed_cte("cases", src)}),
        long AS (SELECT rid, role, given AS raw, trim(given) AS given, seq FROM listed_codes),
        mapped_dx AS (
            SELECT l.*, d.code FROM long l LEFT JOIN ref_dx_lookup d ON d.code_key = lower(l.given)
            WHERE l.role = 'other_dx'
        ), dirty_dx AS (
            -- most lists are already canonical and kept as sent; only the others are rebuilt
            SELECT rid FROM mapped_dx GROUP BY rid HAVING bool_or(code IS DISTINCT FROM raw)
        ), dx_wide AS (
            -- unordered list() then list_sort: ordered aggregates are far slower
            SELECT rid,
                   NULLIF(array_to_string(list_transform(list_sort(
                       list(struct_pack(seq := seq, code := coalesce(code, given)))
                           FILTER (WHERE given <> '')), lambda x: x.code), ';'), '') AS other_dx,
                   NULLIF(array_to_string(list_transform(list_sort(
                       list(struct_pack(seq := seq, given := given))
                           FILTER (WHERE code IS NULL AND given <> '')),
                       lambda x: 'other_dx:' || x.given), ';'), '') AS invalid_codes
            FROM mapped_dx SEMI JOIN dirty_dx USING (rid) GROUP BY rid
        ), mapped_proc AS (
            SELECT l.*, p.code, r.proc_class, r.class_rank
            FROM long l
            LEFT JOIN ref_proc_lookup p ON p.code_key = lower(l.given)
            LEFT JOIN ref_proc r ON r.code = p.code
            WHERE l.role IN ('main_proc', 'other_procs') AND l.given <> ''
        ), proc_items AS (
            SELECT rid,
                   list(struct_pack(seq := seq, code := coalesce(code, given)))
                       FILTER (WHERE role = 'other_procs') AS proc_items,
                   list(struct_pack(role := role, seq := seq, given := given))
                       FILTER (WHERE code IS NULL) AS bad_items,
                   max(coalesce(code, given)) FILTER (WHERE role = 'main_proc') AS main_proc,
                   -- group-key parts: only codes of the list, 保守治疗 left out of the key
                   list(code) FILTER (WHERE code IS NOT NULL
                                      AND proc_class <> 'conservative') AS key_codes,
                   max(code) FILTER (WHERE role = 'main_proc'
                                     AND proc_class <> 'conservative') AS proc_key_main,
                   max(class_rank) AS class_rank_max
            FROM mapped_proc GROUP BY rid
        ), proc_wide AS (
            SELECT rid, main_proc, proc_key_main, class_rank_max,
                   NULLIF(array_to_string(list_transform(list_sort(proc_items),
                                                         lambda x: x.code), ';'), '') AS other_procs,
                   NULLIF(array_to_string(list_transform(list_sort(bad_items),
                                                         lambda x: x.role || ':' || x.given), ';'),
                          '') AS invalid_codes,
                   array_to_string(list_sort(list_distinct(key_codes)), '+') AS proc_key_all
            FROM proc_items
        ), standardised AS (
            SELECT {', '.join(f't.{c}' for c in plain)},
                   {pseudonym_sql('t.patient_id')} AS patient_id,
                   coalesce(md.code, t.main_dx) AS main_dx,
                   CASE WHEN dw.rid IS NULL THEN t.other_dx ELSE dw.other_dx END AS other_dx,
                   w.main_proc, w.other_procs,
                   CAST(year(t.discharge_date) AS INTEGER) AS year,
                   NULLIF(concat_ws(';',
                       CASE WHEN md.code IS NULL THEN 'main_dx:' || t.main_dx END,
                       w.invalid_codes, dw.invalid_codes), '') AS invalid_codes,
                   coalesce(w.proc_key_all, '') AS proc_key_all,
                   coalesce(w.proc_key_main, '') AS proc_key_main,
                   coalesce(cr.proc_class, 'conservative') AS proc_class_max,
                   getvariable('source_file') AS source_file, t.source_row
            FROM typed t
            LEFT JOIN ref_dx_lookup md ON md.code_key = lower(t.main_dx)
            LEFT JOIN proc_wide w ON w.rid = t.source_row
            LEFT JOIN dx_wide dw ON dw.rid = t.source_row
            LEFT JOIN ref_proc_class_rank cr ON cr.class_rank = w.class_rank_max
        )
        SELECT *, {row_hash_sql(columns)} AS row_hash FROM standardised"""


def new_rows_sql(kind: str, src: Source) -> str:
    """Temp table ``new_<kind>`` for settlements or hospitals: typed rows with ``row_hash``."""
    columns = [c.name for c in INPUT_TABLES[kind]]
    return f"""
        CREATE OR REPLACE TEMP TABLE new_{kind} AS
        SELECT *, {row_hash_sql(columns)} AS row_hash
        FROM (SELECT {', '.join(typed_columns_sql(kind, src.sources))},
                     getvariable('source_file') AS source_file, source_row
              FROM {src.relation} WHERE {key_present_sql(kind, src.sources)})"""
