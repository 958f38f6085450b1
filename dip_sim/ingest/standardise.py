"""SQL turning one source file into typed, standardised rows and inserting the new ones.

Cases: every code is looked up in ``ref_*_lookup`` by its key (``code_key_sql``: trimmed,
full-width made half-width, case-insensitive; ZD_MAP/SS_MAP applied; a missing dot restored
where only one code reads so) and stored in its canonical 医保版 2.0 form, each change kept in
``code_changes``; a code not found is kept as given and listed in ``invalid_codes``
(``role:code``). While the procedures are at hand, the group-key
parts are derived too (``dip_rules.md`` §2): ``proc_key_all`` = the valid
procedures that are not 保守治疗, distinct, sorted, joined by ``+``; ``proc_key_main`` = the
main procedure if valid and not 保守治疗; ``proc_class_max`` = the highest class of the case's
valid procedures (``conservative`` when none). The patient identifier is pseudonymised.

Speed (``make bench``): the code lists of a file repeat a lot (2.5M cases have about 55,000
distinct procedure lists), so codes are standardised once per *distinct* list
(``proc_lists``, ``dx_lists``) and joined back by the list as given; then one statement
types, standardises and inserts the file's rows straight from the source, with no
intermediate copy of the file.
"""

from __future__ import annotations

from dip_sim.ingest.parsing import key_present_sql, typed_columns_sql
from dip_sim.ingest.pseudonym import pseudonym_sql
from dip_sim.ingest.readers import Source
from dip_sim.reference.load import change_rule_sql, code_key_sql
from dip_sim.schema import INPUT_KEYS, INPUT_TABLES


def row_hash_sql(columns: list[str]) -> str:
    """A fingerprint of a row's content: with the key, how rows already loaded are recognised."""
    return f"hash({', '.join(columns)})"


_LISTS = ("main_dx", "main_proc", "other_procs", "other_dx")


def _raw_text(src: Source, name: str) -> str:
    """The column ``name`` as the file has it, as text (NULL when the file lacks it)."""
    return f"CAST({src.sources[name][0]} AS VARCHAR)" if name in src.sources else "NULL::VARCHAR"


def _typed_cte(kind: str, src: Source) -> str:
    raw = "".join(f", {_raw_text(src, n)} AS {n}_raw" for n in _LISTS) if kind == "cases" else ""
    return (f"SELECT {', '.join(typed_columns_sql(kind, src.sources))}{raw}, source_row, "
            f"{src.file_expr} AS source_file "
            f"FROM {src.relation} WHERE {key_present_sql(kind, src.sources)}")


def _distinct_lists_sql(src: Source, names: list[str]) -> str:
    """SELECT of the distinct raw values of the code lists ``names``, each with its typed value.

    Each distinct value as the file has it is typed once (``<name>_raw`` keeps it, to join
    back on); a column the file lacks is NULL.
    """
    typed = [e for e in typed_columns_sql("cases", src.sources)
             if e.rsplit(" AS ", 1)[1] in names]
    raw = sorted({src.sources[n][0] for n in names if n in src.sources}) or ["NULL"]
    return (f"SELECT {', '.join(typed)}, "
            f"{', '.join(f'{_raw_text(src, n)} AS {n}_raw' for n in names)} "
            f"FROM (SELECT DISTINCT {', '.join(raw)} FROM {src.relation})")


def code_lists_sql(src: Source) -> str:
    """Temp tables ``proc_lists``, ``dx_lists`` and ``main_dx_codes``: each distinct code list
    of the file, standardised (:func:`proc_lists_sql`, :func:`dx_lists_sql`,
    :func:`main_dx_codes_sql`)."""
    return f"""
        CREATE OR REPLACE TEMP TABLE proc_lists AS {proc_lists_sql(src)};
        CREATE OR REPLACE TEMP TABLE dx_lists AS {dx_lists_sql(src)};
        CREATE OR REPLACE TEMP TABLE main_dx_codes AS {main_dx_codes_sql(src)}"""


def proc_lists_sql(src: Source) -> str:
    """SELECT of one row per distinct (main_proc, other_procs) as the file has them (columns
    ``*_raw``), with the canonical codes, the invalid ones and the group-key parts."""
    return f"""
        WITH lists AS (
            SELECT row_number() OVER () AS lid, *
            FROM ({_distinct_lists_sql(src, ["main_proc", "other_procs"])})
            WHERE main_proc IS NOT NULL OR other_procs IS NOT NULL
        ), long AS (
            SELECT lid, 'main_proc' AS role, main_proc AS given, 0 AS seq
            FROM lists WHERE main_proc IS NOT NULL
            UNION ALL
            SELECT lid, 'other_procs', trim(unnest(string_split(other_procs, ';'))),
                   generate_subscripts(string_split(other_procs, ';'), 1)
            FROM lists WHERE other_procs IS NOT NULL
        ), mapped AS (
            SELECT l.*, p.code, p.rule, r.proc_class, r.class_rank
            FROM long l
            LEFT JOIN ref_proc_lookup p ON p.code_key = {code_key_sql("l.given")}
            LEFT JOIN ref_proc r ON r.code = p.code
            WHERE l.given <> ''
        ), items AS (
            -- unordered list() then list_sort: ordered aggregates are far slower
            SELECT lid,
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
                   max(class_rank) AS class_rank_max,
                   -- in the order written (the main procedure first), whatever the threads
                   list_transform(list_sort(list(struct_pack(
                       seq := seq, change := struct_pack(
                           field := role, given := given, code := code,
                           rule := {change_rule_sql("given", "rule")})))
                       FILTER (WHERE code <> given)), lambda x: x.change) AS changes
            FROM mapped GROUP BY lid
        )
        SELECT l.main_proc_raw, l.other_procs_raw, i.main_proc,
               NULLIF(array_to_string(list_transform(list_sort(i.proc_items),
                                                     lambda x: x.code), ';'), '') AS other_procs,
               NULLIF(array_to_string(list_transform(list_sort(i.bad_items),
                                                     lambda x: x.role || ':' || x.given), ';'),
                      '') AS invalid_codes,
               coalesce(array_to_string(list_sort(list_distinct(i.key_codes)), '+'), '')
                   AS proc_key_all,
               coalesce(i.proc_key_main, '') AS proc_key_main,
               coalesce(cr.proc_class, 'conservative') AS proc_class_max,
               i.changes
        FROM lists l
        LEFT JOIN items i USING (lid)
        LEFT JOIN ref_proc_class_rank cr ON cr.class_rank = i.class_rank_max"""


def dx_lists_sql(src: Source) -> str:
    """SELECT of the distinct ``other_dx`` lists that are not already canonical (most are, and
    are kept as sent), with the canonical list and the invalid codes. A list is not canonical
    when one of its codes is not exactly a code of the list: found by looking up each distinct
    code once."""
    return f"""
        WITH lists AS MATERIALIZED (
            SELECT other_dx_raw AS other_dx, string_split(other_dx_raw, ';') AS raw_codes
            FROM ({_distinct_lists_sql(src, ["other_dx"])}) WHERE other_dx IS NOT NULL
        ), not_canonical AS (
            -- each distinct code once: not canonical when the lookup does not return it as is
            SELECT raw FROM (SELECT DISTINCT unnest(raw_codes) AS raw FROM lists) t
            LEFT JOIN ref_dx_lookup d ON d.code_key = {code_key_sql("t.raw")}
            WHERE d.code IS DISTINCT FROM t.raw
        ), mapped AS (
            SELECT l.*, trim(l.raw) AS given, d.code, d.rule
            FROM (SELECT other_dx, unnest(raw_codes) AS raw,
                         generate_subscripts(raw_codes, 1) AS seq
                  FROM lists SEMI JOIN (
                      SELECT other_dx FROM (SELECT other_dx, unnest(raw_codes) AS raw FROM lists)
                      SEMI JOIN not_canonical USING (raw)) USING (other_dx)) l
            LEFT JOIN ref_dx_lookup d ON d.code_key = {code_key_sql("l.raw")}
        )
        SELECT other_dx AS other_dx_raw,
               NULLIF(array_to_string(list_transform(list_sort(
                   list(struct_pack(seq := seq, code := coalesce(code, given)))
                       FILTER (WHERE given <> '')), lambda x: x.code), ';'), '') AS other_dx,
               NULLIF(array_to_string(list_transform(list_sort(
                   list(struct_pack(seq := seq, given := given))
                       FILTER (WHERE code IS NULL AND given <> '')),
                   lambda x: 'other_dx:' || x.given), ';'), '') AS invalid_codes,
               list_transform(list_sort(list(struct_pack(
                   seq := seq, change := struct_pack(
                       field := 'other_dx', given := given, code := code,
                       rule := {change_rule_sql("given", "rule")})))
                   FILTER (WHERE code <> given)), lambda x: x.change) AS changes
        FROM mapped GROUP BY other_dx"""


def main_dx_codes_sql(src: Source) -> str:
    """SELECT of each distinct main diagnosis as the file has it, with its canonical code."""
    return f"""
        SELECT l.main_dx_raw, l.main_dx AS given, d.code,
               {change_rule_sql("l.main_dx", "d.rule")} AS rule
        FROM ({_distinct_lists_sql(src, ["main_dx"])}) l
        LEFT JOIN ref_dx_lookup d ON d.code_key = {code_key_sql("l.main_dx")}
        WHERE l.main_dx IS NOT NULL"""


def present_rows_sql(kind: str) -> str:
    """Temp table ``present``: (key, content hash) of the rows already loaded for the file's keys.

    The file's key fingerprints are in ``file_keys`` (written while checking the file); a
    fingerprint shared by two keys only adds a row that the insert's exact join ignores.
    Usually empty (new data), and then small to join against: the anti-join of the insert
    builds on it rather than on every row of the table or of the file.
    """
    return f"""
        CREATE OR REPLACE TEMP TABLE present AS
        SELECT case_id, row_hash, key_hash FROM {kind}
        WHERE key_hash IN (SELECT key_hash FROM file_keys)"""


def _insert_new_sql(kind: str, select: str) -> str:
    """INSERT the rows of ``select`` whose (key, content) is not in the table yet (``present``).

    ``present`` includes the rows inserted by earlier files of the batch; exact repeats within
    one file are removed afterwards (``load._settle_repeats``).
    """
    return f"""
        INSERT INTO {kind} BY NAME
        SELECT n.*, getvariable('batch_id') AS batch_id
        FROM ({select}) n
        ANTI JOIN present c ON c.case_id = n.case_id AND c.row_hash = n.row_hash"""


def insert_cases_sql(src: Source) -> str:
    """INSERT the table's new case rows, standardised, reading the code-list tables.

    Each row's file label is ``src.file_expr``.
    """
    return _insert_new_sql("cases", standardised_cases_sql(src))


def standardised_cases_sql(src: Source) -> str:
    """SELECT of the file's case rows typed and standardised, with ``row_hash`` and
    ``key_hash``, reading the code-list tables (:func:`code_lists_sql`)."""
    columns = [c.name for c in INPUT_TABLES["cases"]]
    plain = [c for c in columns
             if c not in ("patient_id", "main_dx", "other_dx", "main_proc", "other_procs")]
    return f"""
        WITH typed AS ({_typed_cte("cases", src)}),
        standardised AS (
            SELECT {', '.join(f't.{c}' for c in plain)},
                   {pseudonym_sql('t.patient_id')} AS patient_id,
                   coalesce(md.code, t.main_dx) AS main_dx,
                   CASE WHEN dx.other_dx_raw IS NULL THEN t.other_dx ELSE dx.other_dx END
                       AS other_dx,
                   p.main_proc, p.other_procs,
                   CAST(year(t.discharge_date) AS INTEGER) AS year,
                   NULLIF(concat_ws(';',
                       CASE WHEN md.code IS NULL THEN 'main_dx:' || t.main_dx END,
                       p.invalid_codes, dx.invalid_codes), '') AS invalid_codes,
                   coalesce(p.proc_key_all, '') AS proc_key_all,
                   coalesce(p.proc_key_main, '') AS proc_key_main,
                   coalesce(p.proc_class_max, 'conservative') AS proc_class_max,
                   -- each code written otherwise than its canonical form (view code_changes)
                   NULLIF(list_concat(
                       CASE WHEN md.code <> md.given
                            THEN [struct_pack(field := 'main_dx', given := md.given,
                                              code := md.code, rule := md.rule)] END,
                       p.changes, dx.changes), []) AS code_changes,
                   t.source_file, t.source_row
            FROM typed t
            LEFT JOIN main_dx_codes md ON md.main_dx_raw = t.main_dx_raw
            LEFT JOIN proc_lists p
                   ON p.main_proc_raw IS NOT DISTINCT FROM t.main_proc_raw
                  AND p.other_procs_raw IS NOT DISTINCT FROM t.other_procs_raw
            LEFT JOIN dx_lists dx ON dx.other_dx_raw = t.other_dx_raw
        )
        SELECT *, {row_hash_sql(columns)} AS row_hash, hash(case_id) AS key_hash
        FROM standardised"""


def insert_rows_sql(kind: str, src: Source) -> str:
    """INSERT the table's new settlement rows, typed (each row's file label: ``src.file_expr``)."""
    return _insert_new_sql(kind, typed_rows_sql(kind, src))


def typed_rows_sql(kind: str, src: Source) -> str:
    """SELECT of a file's typed rows with ``row_hash``, ``source_file`` and ``source_row``."""
    columns = [c.name for c in INPUT_TABLES[kind]]
    return f"""
        SELECT *, {row_hash_sql(columns)} AS row_hash, hash({INPUT_KEYS[kind]}) AS key_hash
        FROM (SELECT {', '.join(typed_columns_sql(kind, src.sources))},
                     {src.file_expr} AS source_file, source_row
              FROM {src.relation} WHERE {key_present_sql(kind, src.sources)})"""
