"""Code tables of the auxiliary typing (辅助分型), per diagnosis code, as temp tables.

Read when a run needs them (``auxiliary.enabled`` or a panel's split), from
``data/reference/``: the Charlson categories (``charlson_icd10.csv``, Quan 2005 with the
Charlson 1987 weights) and the severity and tumour lists (``severity_dx.csv``), both by code
prefix, expanded here to every 医保版 2.0 code of ``ref_dx`` by the longest matching prefix;
and the CHS-DRG 1.1 MCC/CC tables with their exclusion tables (``chs_codes/MCC.dat``,
``CC.dat``, ``CCE.dat``), the stand-in for the severity lists (``auxiliary.severity_source
= chs_mcc_cc``). Sources: ``data/reference/PROVENANCE.md``.

Tables: ``aux_dx_charlson`` (code, category, weight), ``aux_dx_severity`` (code, kind: severe,
moderate, tumour_metastasis, tumour_radiotherapy, tumour_chemotherapy), ``aux_dx_cc`` (code,
kind: severe for an MCC, moderate for a CC, exclusion table), ``aux_cc_exclusion`` (main
diagnosis code, exclusion table: a CC/MCC whose table holds the main diagnosis does not count).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from dip_sim.paths import REFERENCE_DIR


def _prefix_table_sql(path: Path, columns: str) -> str:
    """Every ``ref_dx`` code with the row of its longest matching prefix in the CSV ``path``."""
    return f"""
        SELECT d.code, {columns}
        FROM ref_dx d
        JOIN read_csv('{path.as_posix()}', header = true, all_varchar = true) p
          ON starts_with(d.code, trim(p.prefix))
        QUALIFY row_number() OVER (PARTITION BY d.code ORDER BY length(trim(p.prefix)) DESC) = 1
    """


def _pairs_sql(path: Path) -> str:
    """A ``code table_id`` .dat file as (code, table_id)."""
    return f"""
        SELECT split_part(trim(line), ' ', 1) AS code, split_part(trim(line), ' ', 2) AS table_id
        FROM read_csv('{path.as_posix()}', columns = {{'line': 'VARCHAR'}}, header = false,
                      delim = '\\t', quote = '', escape = '', auto_detect = false)
        WHERE trim(line) <> ''"""


def load_auxiliary_reference(con: duckdb.DuckDBPyConnection,
                             reference_dir: Path = REFERENCE_DIR) -> None:
    """Create the ``aux_*`` temp tables (see the module docstring) on ``con``."""
    codes = reference_dir / "chs_codes"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE aux_dx_charlson AS
        {_prefix_table_sql(reference_dir / "charlson_icd10.csv",
                           "p.category, CAST(p.weight AS INTEGER) AS weight")};
        CREATE OR REPLACE TEMP TABLE aux_dx_severity AS
        {_prefix_table_sql(reference_dir / "severity_dx.csv", "p.kind")};
        CREATE OR REPLACE TEMP TABLE aux_dx_cc AS
        SELECT * FROM (
            SELECT code, 'severe' AS kind, table_id FROM ({_pairs_sql(codes / "MCC.dat")})
            UNION ALL
            SELECT code, 'moderate', table_id FROM ({_pairs_sql(codes / "CC.dat")}))
        -- a code in both tables counts as an MCC
        QUALIFY row_number() OVER (PARTITION BY code ORDER BY kind = 'severe' DESC) = 1;
        CREATE OR REPLACE TEMP TABLE aux_cc_exclusion AS {_pairs_sql(codes / "CCE.dat")};""")


def aux_reference_tables(con: duckdb.DuckDBPyConnection, run: object) -> None:
    """The ``aux_*`` tables, as a stage of a run (they depend on no parameter)."""
    del run
    load_auxiliary_reference(con)
