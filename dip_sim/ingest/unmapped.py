"""A column that maps to no field: what it looks like, the field it probably is, and the
``--mapping`` row that would place it.

An unmapped column is described by its header's words (Chinese, and the 医保信息平台's English
abbreviations): a diagnosis, a procedure, a cost, a fund or personal payment, an identifier, or
other. A table whose diagnosis, procedure, cost or payment column maps to nothing is refused
(``readers``), since loading it would lose what grouping or the amounts need; the message gives
the field each column probably is (the closest known spelling of a field of its look) and the
mapping file row that places it.
"""

from __future__ import annotations

import difflib
import re
import unicodedata

from dip_sim.ingest.headers import NUMBERED_SUFFIX, MapEntry, normalise_header
from dip_sim.schema import INPUT_COLUMNS

# What an unmapped column looks like, by its header's words (Chinese, and the interface's
# English abbreviations). Looked up in this order: 手术费 is a cost, 基金支付金额 a payment.
LOOKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "payment": ("基金或个人支付", ("支付", "基金", "统筹", "自付", "自费", "报销", "负担",
                                   "pay", "fund")),
    "cost": ("费用", ("费", "金额", "合计", "总额", "fee", "amt", "sumamt", "cost")),
    "procedure": ("手术操作", ("手术", "操作", "icd9", "oprn", "oprt", "proc")),
    "diagnosis": ("诊断", ("诊断", "疾病", "主病", "主证", "icd10", "icd", "dise", "diag", "dx")),
    "identifier": ("标识", ("号", "id", "代码", "编码", "编号", "流水", "no", "sn", "code")),
}
LOOK_OTHER = ("other", "其他")
# looks whose unmapped columns refuse the file (they would change grouping or amounts)
REFUSING_LOOKS: tuple[str, ...] = ("diagnosis", "procedure", "cost", "payment")


def column_look(header: str) -> str:
    """What an unmapped column looks like: diagnosis, procedure, cost, payment, identifier, other."""
    text = unicodedata.normalize("NFKC", str(header)).lower()
    words = set(re.split(r"[^a-z0-9]+", text))
    for look, (_, tokens) in LOOKS.items():
        for token in tokens:
            if (token.isascii() and token in words) or (not token.isascii() and token in text):
                return look
    return LOOK_OTHER[0]


def look_zh(look: str) -> str:
    """The Chinese name of a look (诊断, 手术操作 …)."""
    return LOOKS[look][0] if look in LOOKS else LOOK_OTHER[1]


# The field a column of each look most likely holds when nothing closer is known
_LIKELY: dict[str, tuple[str, str]] = {  # look → (field if the header says 主/总/统筹, else)
    "diagnosis": ("main_dx", "other_dx"),
    "procedure": ("main_proc", "other_procs"),
    "cost": ("total_cost_yuan", "other_yuan"),
    "payment": ("fund_paid_yuan", "patient_paid_yuan"),
}
_LOOK_FIELDS: dict[str, set[str]] = {
    "diagnosis": {"main_dx", "other_dx", "tcm_main_dx", "tcm_syndrome"},
    "procedure": {"main_proc", "other_procs"},
    "cost": {c.name for c in INPUT_COLUMNS.values() if c.name.endswith("_yuan")},
    "payment": {"fund_paid_yuan", "patient_paid_yuan", "other_fund_paid_yuan"},
}


def suggest_field(header: str, look: str, mapping: dict[str, MapEntry],
                  taken: set[str] = frozenset()) -> tuple[str, str]:
    """(field, header to map) for an unmapped column: the closest known spelling of a field
    of its look, else the look's usual field; a main diagnosis or procedure already ``taken``
    by another column makes it an other one. A numbered column suggests its series' name
    (mapping 诊断 covers 诊断1 … 诊断N)."""
    name, to_map = _suggest(header, look, mapping)
    if name in taken and name in ("main_dx", "main_proc"):
        name = "other_dx" if name == "main_dx" else "other_procs"
    return name, to_map


def _suggest(header: str, look: str, mapping: dict[str, MapEntry]) -> tuple[str, str]:
    key = normalise_header(header)
    to_map = header
    match = NUMBERED_SUFFIX.match(key)
    if match and look in ("diagnosis", "procedure"):
        to_map = re.sub(r"\s*\d+\s*$", "", str(header)) or header
        key = match.group(1)
    fields = _LOOK_FIELDS.get(look)
    if fields is None:
        return "", to_map
    known = {k: e.field for k, e in mapping.items() if e.field in fields}
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    if close:
        name = known[close[0]]
        if match and look in ("diagnosis", "procedure") and name in ("main_dx", "main_proc"):
            name = "other_dx" if look == "diagnosis" else "other_procs"
        return name, to_map
    main, other = _LIKELY[look]
    says_main = any(w in key for w in ("主要", "主诊", "主手术", "总", "统筹", "合计"))
    if match and look in ("diagnosis", "procedure"):
        says_main = False
    return (main if says_main else other), to_map
