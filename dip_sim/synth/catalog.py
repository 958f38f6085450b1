"""The fixed catalogue of case types the generator samples discharges from.

A case type is a main diagnosis family (codes sharing their first five characters, the part a
DIP grouper keys on) plus zero to three procedures, with a base cost, a base length of stay
and the sex/age of its patients. The catalogue has two parts:

* a hand-written head of common Yangquan admissions (pneumonia, cerebral infarction, PCI,
  deliveries, cataract, chemotherapy …) with realistic 医保版 2.0 codes and costs;
* a tail drawn from CHS-DRG 1.1: a surgical or procedural ADRG's ``op`` codes with main
  diagnoses of its MDC, or a medical ADRG's ``dx`` codes with no procedure (or a diagnostic /
  therapeutic non-OR one, codes 87–99).

Types are ranked (head first) and get Zipf-like frequencies, so a few hundred types carry most
cases and a long tail stays rare. The catalogue is built from :data:`CATALOG_SEED`, not from the
generation seed, so every seed draws from the same groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import polars as pl

from dip_sim.synth.codes import CodeTables, load_code_tables
from dip_sim.synth.hospitals import MATERNAL

CATALOG_SEED = 20170101  # fixed: the same catalogue whatever the generation seed
N_CASE_TYPES = 8000  # head + tail
ZIPF_EXPONENT = 1.15  # frequency of the type of rank r ∝ 1 / (r + ZIPF_OFFSET) ** ZIPF_EXPONENT
ZIPF_OFFSET = 4.0  # flattens the very top (no single type above a few % of cases)

KIND_MEDICAL, KIND_OPERATION, KIND_SURGICAL = 0, 1, 2

# Sex/age rule of a type, from its main diagnosis (and MDC).
RULE_ANY = 0
RULE_FEMALE_REPRO = 1  # chapter O, N70–N98, MDC O: women aged 15–50
RULE_FEMALE = 2  # other female-only (MDC N, e.g. uterine myoma, cervical cancer): women ≥ 15
RULE_MALE = 3  # N40–N51, C60–C63, MDC M: men
RULE_NEWBORN = 4  # chapter P, MDC P: age 0, 0–28 days, with a birth weight

# Tail mix: share of medical / non-OR procedure / surgical types.
_TAIL_KIND_SHARE = (0.55, 0.15, 0.30)
# Relative weight of each MDC when drawing tail types (MDC A, transplants etc., left out).
_MDC_WEIGHT: dict[str, float] = {
    "B": 12, "C": 3, "D": 3, "E": 12, "F": 14, "G": 12, "H": 5, "I": 10, "J": 3, "K": 4,
    "L": 5, "M": 1.5, "N": 3, "O": 4, "P": 1.5, "Q": 1, "R": 3, "S": 1, "T": 0.5, "U": 0.2,
    "V": 2, "W": 0.2, "X": 1, "Y": 0.05, "Z": 0.5,
}  # fmt: skip
# Median base cost (yuan, level-3 hospital, 2017) and log-sd across tail types, by kind.
_TAIL_COST = {KIND_MEDICAL: (6000.0, 0.6), KIND_OPERATION: (9000.0, 0.6),
              KIND_SURGICAL: (18000.0, 0.65)}  # fmt: skip
BASE_COST_RANGE = (2000.0, 80000.0)
# Share of tail types whose cases are sometimes coded with a sibling diagnosis (same 3-character
# category, another 5-character key), and the range of the share of their cases coded so.
SIBLING_TYPE_SHARE = 0.7
SIBLING_CASE_SHARE = (0.05, 0.4)
MAX_SIBLINGS = 2
# Share of tail types with procedures whose cases sometimes add one more (e.g. a transfusion),
# and the range of the share of their cases that do.
VARIANT_TYPE_SHARE = 0.6
VARIANT_CASE_SHARE = (0.05, 0.3)

# Common diagnostic/therapeutic non-OR procedures (code, weight).
COMMON_NON_OR_PROCS: tuple[tuple[str, float], ...] = (
    ("99.0401", 3.0),  # 红细胞输入
    ("87.0300x001", 2.0),  # 头部CT检查
    ("88.3800", 2.0),  # 其他计算机轴向断层照相术
    ("45.1300x004", 2.0),  # 胃-十二指肠镜检查
    ("45.2302", 2.0),  # 电子结肠镜检查
    ("89.5200", 1.0),  # 心电图
    ("33.2200", 1.0),  # 光导纤维支气管镜检查
    ("96.7101", 1.0),  # 呼吸机治疗[小于96小时]
    ("99.1501", 1.0),  # 全部胃肠外营养
    ("93.9601", 1.0),  # 吸氧
    ("88.7100x001", 1.0),  # 颈部超声检查
)


@dataclass(frozen=True)
class _Head:
    """One hand-written common case type."""

    label: str
    mdc: str  # major diagnostic category (CHS-DRG 1.1) the case belongs to
    dx: tuple[str, ...]  # main diagnosis codes (same first 5 characters), the first most used
    procs: tuple[str, ...]  # main procedure first
    cost: float  # base cost, yuan, level-3 hospital, 2017
    los: float  # base length of stay, days
    age: tuple[float, float] = (60.0, 14.0)  # adult age mean, sd
    male: float = 0.5  # share of men (ignored by sex-specific rules)
    child: float = 0.0  # share aged 1–14
    infant: float = 0.0  # share aged < 1 year (29–364 days)


_HEAD: tuple[_Head, ...] = (
    _Head("肺炎", "E", ("J18.900", "J18.903"), (), 6500, 9, (66, 15), 0.55, 0.30, 0.04),
    _Head("脑梗死", "B", ("I63.900", "I63.901", "I63.904"), (), 9500, 12, (68, 11), 0.58),
    _Head("冠心病", "F", ("I25.103", "I25.102"), (), 6000, 8, (66, 11), 0.55),
    _Head("肿瘤化疗", "R", ("Z51.100", "Z51.102", "Z51.103"), ("99.2500",), 5500, 5, (58, 11)),
    _Head("慢阻肺急性加重", "E", ("J44.100",), (), 8000, 10, (72, 9), 0.65),
    _Head("高血压", "F", ("I10.x00", "I10.x00x002"), (), 4500, 8, (65, 12)),
    _Head("不稳定型心绞痛", "F", ("I20.000", "I20.003"), (), 6500, 7, (65, 10), 0.55),
    _Head("顺产", "O", ("O80.000",), (), 3200, 3, (28, 4.5)),
    _Head("剖宫产", "O", ("O82.000",), ("74.1x01",), 7000, 6, (29, 4.5)),
    _Head("2型糖尿病", "K", ("E11.900",), (), 6000, 10, (60, 12)),
    _Head(
        "冠脉支架", "F",
        ("I25.103",), ("00.6600", "36.0700", "88.5600"), 42000, 8, (63, 10), 0.7,
    ),
    _Head("急性支气管炎", "E", ("J20.900",), (), 3500, 7, (55, 20), 0.5, 0.40, 0.03),
    _Head("心力衰竭", "F", ("I50.900", "I50.900x002"), (), 7500, 10, (74, 10)),
    _Head("白内障", "C", ("H25.900",), ("13.4100x001", "13.7000"), 6500, 3, (70, 9), 0.45),
    _Head("冠脉造影", "F", ("I20.000",), ("88.5600",), 11000, 6, (62, 10), 0.6),
    _Head("腰椎间盘突出", "I", ("M51.202",), (), 6000, 12, (52, 12)),
    _Head("胆囊结石伴胆囊炎", "H", ("K80.100", "K80.101"), ("51.2300",), 14000, 7, (52, 13), 0.45),
    _Head("瘢痕子宫剖宫产", "O", ("O34.201", "O34.200x002"), ("74.1x01",), 7500, 6, (32, 4)),
    _Head(
        "肺恶性肿瘤", "E",
        ("C34.900", "C34.900x001", "C34.900x005"), (), 12000, 12, (65, 9), 0.68,
    ),
    _Head(
        "急性阑尾炎", "G",
        ("K35.800", "K35.800x001"), ("47.0100",), 11000, 6, (35, 15), 0.5, 0.1,
    ),
    _Head("胃炎", "G", ("K29.700",), (), 4000, 7, (50, 15), 0.45),
    _Head("脑供血不足", "B", ("I67.800x003", "I67.800x004"), (), 4500, 9, (66, 11), 0.45),
    _Head("上呼吸道感染", "D", ("J06.900",), (), 2500, 5, (30, 20), 0.52, 0.6, 0.06),
    _Head("胃肠炎", "G", ("A09.000", "A09.001"), (), 3000, 5, (40, 20), 0.5, 0.35, 0.05),
    _Head("顺产会阴侧切", "O", ("O80.000",), ("73.6x01",), 3600, 4, (27, 4.5)),
    _Head("结肠息肉", "G", ("K63.500", "K63.503"), ("45.4200x003",), 7000, 4, (55, 11), 0.58),
    _Head("输尿管结石", "L", ("N20.100",), ("56.0x00x003",), 13000, 6, (45, 12), 0.6),
    _Head("脑出血", "B", ("I61.000", "I61.000x008"), (), 20000, 18, (63, 12), 0.6),
    _Head("眩晕", "B", ("R42.x00", "R42.x00x004"), (), 3500, 7, (58, 14), 0.4),
    _Head("心房颤动", "F", ("I48.000",), (), 6000, 7, (68, 10)),
    _Head("新生儿黄疸", "P", ("P59.900", "P59.901"), (), 4000, 6),
    _Head("股骨颈骨折", "I", ("S72.000", "S72.000x031"), ("81.5201",), 38000, 15, (76, 9), 0.35),
    _Head("膝关节病", "I", ("M17.100", "M17.101"), ("81.5400",), 55000, 15, (67, 7), 0.3),
    _Head("前列腺增生", "M", ("N40.x00",), ("60.2900x004",), 16000, 9, (70, 8), 1.0),
    _Head("泌尿道感染", "L", ("N39.000",), (), 4000, 8, (55, 20), 0.3),
    _Head("短暂性脑缺血发作", "B", ("G45.900",), (), 5000, 8, (64, 11), 0.55),
    _Head("胃十二指肠镜", "G", ("K29.700",), ("45.1300x004",), 5000, 6, (52, 14), 0.45),
    _Head("子宫平滑肌瘤", "N", ("D25.100", "D25.100x001"), ("68.4100",), 20000, 8, (46, 6)),
    _Head("急性胰腺炎", "H", ("K85.100", "K85.101"), (), 15000, 11, (52, 15), 0.55),
    _Head("胎膜早破", "O", ("O42.000", "O42.000x001"), (), 3800, 4, (28, 4.5)),
    _Head("脑震荡", "B", ("S06.000",), (), 4000, 7, (42, 18), 0.6, 0.1),
    _Head("尿毒症血液透析", "L", ("N18.500",), ("39.9500",), 9000, 12, (60, 13), 0.55),
    _Head("腹股沟疝", "G", ("K40.900", "K40.900x003"), ("53.0001",), 9000, 5, (60, 15), 0.9),
    _Head("哮喘", "E", ("J45.900", "J45.900x001"), (), 5000, 8, (50, 22), 0.45, 0.15),
    _Head("早产儿", "P", ("P07.300", "P07.300x021"), (), 12000, 15),
    _Head("乳腺癌改良根治", "J", ("C50.900",), ("85.4301",), 30000, 14, (52, 10), 0.01),
    _Head("消化道出血", "G", ("K92.200", "K92.200x005"), ("45.1300x004",), 9000, 9, (60, 15), 0.6),
    _Head("肝硬化", "H", ("K74.600", "K74.600x003"), (), 10000, 12, (57, 11), 0.65),
    _Head(
        "腰椎骨折椎体成形", "I",
        ("S32.000x002", "S32.000"), ("81.6600x001",), 30000, 10, (70, 10),
    ),
    _Head("慢阻肺机械通气", "E", ("J44.100",), ("96.7101",), 18000, 14, (74, 8), 0.65),
    _Head("新生儿湿肺", "P", ("P22.100", "P22.101"), (), 5000, 7),
    _Head("腰椎管狭窄融合", "I", ("M48.005", "M48.000"), ("81.0701",), 60000, 14, (62, 10), 0.45),
    _Head("胃恶性肿瘤", "G", ("C16.900", "C16.902"), ("43.7x03",), 65000, 18, (63, 9), 0.7),
    _Head("下肢静脉曲张", "F", ("I83.900", "I83.903"), ("38.5900",), 12000, 7, (56, 11), 0.45),
)


@dataclass(frozen=True)
class CaseTypes:
    """The catalogue as aligned arrays, one entry per case type (index = rank).

    String columns are polars Series so that per-case values are one ``gather`` away.
    """

    weight: np.ndarray  # float64: Zipf-like base frequency (sums to 1)
    kind: np.ndarray  # int8: KIND_*
    mdc: np.ndarray  # <U1: MDC letter
    rule: np.ndarray  # int8: RULE_*
    dx_offset: np.ndarray  # int64: first code of the type's family in ``dx_codes``
    dx_size: np.ndarray  # int64: number of codes in the family (≥ 1)
    dx_codes: pl.Series  # flat list of all families' diagnosis codes
    sib_offset: np.ndarray  # int64: first sibling code of the type in ``sib_codes``
    sib_size: np.ndarray  # int64: number of sibling codes (0 or more)
    sib_codes: pl.Series  # flat list of sibling diagnoses (same category, other key)
    sibling_share: np.ndarray  # float64: share of the type's cases coded with a sibling
    dx_alias: pl.Series  # an old (ZD_MAP) spelling of a family code, or null
    main_proc: pl.Series  # main procedure or null
    other_procs: pl.Series  # fixed other procedures, ";"-joined, or null
    proc_alias: pl.Series  # an old (SS_MAP) spelling of the main procedure, or null
    variant_proc: pl.Series  # a procedure some of the type's cases add, or null
    variant_rate: np.ndarray  # float64: share of cases with the variant procedure
    base_cost: np.ndarray  # float64: yuan, level-3 hospital, base year
    base_los: np.ndarray  # float64: days
    age_mean: np.ndarray  # float64
    age_sd: np.ndarray  # float64
    male_share: np.ndarray  # float64
    child_share: np.ndarray  # float64: share aged 1–14
    infant_share: np.ndarray  # float64: share aged 29–364 days
    birth_weight_mean: np.ndarray  # float64: grams, newborn types only

    def __len__(self) -> int:
        return len(self.weight)

    def profile_weights(self, level: int, profile: str) -> np.ndarray:
        """Frequencies of the types at a hospital of ``level`` and case-mix ``profile``.

        Township (level 1) hospitals treat mostly cheap medical cases (no chemotherapy, few
        newborns); level-2 hospitals send the most expensive surgery away; maternal and child
        hospitals treat pregnancy, gynaecology, newborn and children's cases.
        """
        w = self.weight.copy()
        surgical = self.kind != KIND_MEDICAL
        if level == 1:
            w *= np.where(surgical, np.where(self.base_cost < 12000, 0.15, 0.005), 1.0)
            w *= np.where(self.base_cost < 8000, 1.0, 0.1)
            w *= np.where(np.isin(self.mdc, ["R", "P"]), 0.05, 1.0)  # no chemo, few newborns
        elif level == 2:
            w *= np.where(self.base_cost > 40000, 0.3, 1.0)
        if profile == MATERNAL:
            w *= np.select(
                [np.isin(self.mdc, ["N", "O", "P"]), self.child_share >= 0.3],
                [1.0, 0.3],
                0.005,
            )
        return w / w.sum()


def _rule_for(dx: str, mdc: str) -> int:
    """The sex/age rule implied by a main diagnosis code and its MDC."""
    chapter, num = dx[0], int(dx[1:3]) if dx[1:3].isdigit() else -1
    sub = dx[4] if len(dx) > 4 and dx[4].isdigit() else "0"
    if chapter == "P" or mdc == "P":
        return RULE_NEWBORN
    if chapter == "O" or mdc == "O" or (chapter == "N" and 70 <= num <= 98):
        return RULE_FEMALE_REPRO
    if chapter == "Z" and 30 <= num <= 39:  # contraception, pregnancy, delivery
        return RULE_FEMALE_REPRO
    male = (
        mdc == "M"
        or (chapter == "N" and 40 <= num <= 51)
        or (chapter == "C" and 60 <= num <= 63)
        or (chapter == "D" and (num in (29, 40) or (num == 7 and sub >= "4")))
        or (chapter == "E" and num == 29)
        or (chapter == "Q" and 53 <= num <= 55)
    )
    if male:
        return RULE_MALE
    female = (
        mdc == "N"
        or (chapter == "C" and 51 <= num <= 58)
        or (chapter == "D" and (25 <= num <= 28 or num in (6, 39) or (num == 7 and sub < "4")))
        or (chapter == "E" and num == 28)
        or (chapter == "Q" and 50 <= num <= 52)
    )
    return RULE_FEMALE if female else RULE_ANY


def _by_category(pool: tuple[str, ...]) -> dict[str, list[str]]:
    """The codes of ``pool`` grouped by 3-character category, each group sorted."""
    out: dict[str, list[str]] = {}
    for code in sorted(pool):
        out.setdefault(code[:3], []).append(code)
    return out


def _family(dx: str, category: list[str], rng: np.random.Generator) -> list[str]:
    """``dx`` first, then up to three other codes of its category sharing its first 5 chars."""
    others = [c for c in category if c[:5] == dx[:5] and c != dx]
    if len(others) > 3:
        others = sorted(rng.choice(others, size=3, replace=False).tolist())
    return [dx, *others]


def _siblings(dx: str, category: list[str], rng: np.random.Generator) -> list[str]:
    """Up to MAX_SIBLINGS codes of ``dx``'s category with another 5-character key."""
    by_key: dict[str, str] = {}
    for c in category:
        if c[:5] != dx[:5]:
            by_key.setdefault(c[:5], c)
    keys = sorted(by_key)
    if len(keys) > MAX_SIBLINGS:
        keys = sorted(rng.choice(keys, size=MAX_SIBLINGS, replace=False).tolist())
    return [by_key[k] for k in keys]


def _los_for(cost: float, kind: int) -> float:
    """Base length of stay that grows with the base cost (surgical stays are shorter)."""
    los = 2.0 + 3.5 * (cost / 3000.0) ** 0.6
    return float(np.clip(los * (0.75 if kind == KIND_SURGICAL else 1.0), 2.0, 35.0))


def _check_codes(codes: list[str], known: dict[str, str], what: str) -> None:
    """Raise if a hand-written code is not in the reference table."""
    missing = [c for c in codes if c not in known]
    if missing:
        raise ValueError(f"catalogue {what} codes not in the reference tables: {missing}")


@dataclass
class _Row:
    kind: int
    mdc: str
    dx_family: list[str]
    procs: list[str]
    cost: float
    los: float
    age_mean: float
    age_sd: float
    male: float
    child: float
    infant: float
    variant: str | None = None
    variant_rate: float = 0.0
    dx_siblings: list[str] = field(default_factory=list)
    sibling_share: float = 0.0


def _head_rows(tables: CodeTables) -> list[_Row]:
    """The hand-written head, checked against the code tables."""
    rows = []
    for h in _HEAD:
        _check_codes(list(h.dx), tables.dx_names, "diagnosis")
        _check_codes(list(h.procs), tables.proc_names, "procedure")
        if len({c[:5] for c in h.dx}) != 1:
            raise ValueError(f"head type {h.label}: diagnoses differ in their first 5 characters")
        if any(p in tables.or_procs for p in h.procs):
            kind = KIND_SURGICAL
        else:
            kind = KIND_OPERATION if h.procs else KIND_MEDICAL
        rows.append(
            _Row(kind, h.mdc, list(h.dx), list(h.procs), h.cost, h.los, h.age[0], h.age[1],
                 h.male, h.child, h.infant)  # fmt: skip
        )
    return rows


def _tail_rows(tables: CodeTables, n: int, rng: np.random.Generator) -> list[_Row]:
    """``n`` case types drawn from the CHS-DRG 1.1 ADRG code lists."""
    by_kind: dict[int, list[str]] = {KIND_MEDICAL: [], KIND_OPERATION: [], KIND_SURGICAL: []}
    for adrg in dict.fromkeys(tables.adrg_order):
        roles = tables.adrg_codes.get(adrg, {})
        mdc, letter = adrg[0], adrg[1]
        if mdc not in _MDC_WEIGHT or not (roles.get("dx") or tables.mdc_dx.get(mdc)):
            continue
        if letter <= "J" and roles.get("op"):
            by_kind[KIND_SURGICAL].append(adrg)
        elif letter <= "Q" and roles.get("op"):
            by_kind[KIND_OPERATION].append(adrg)
        elif letter >= "R" and roles.get("dx"):
            by_kind[KIND_MEDICAL].append(adrg)
    adrg_p: dict[int, np.ndarray] = {}
    for kind, adrgs in by_kind.items():
        per_mdc: dict[str, int] = {}
        for a in adrgs:
            per_mdc[a[0]] = per_mdc.get(a[0], 0) + 1
        w = np.array([_MDC_WEIGHT[a[0]] / per_mdc[a[0]] for a in adrgs])
        adrg_p[kind] = w / w.sum()

    non_or = sorted(
        c for c in tables.proc_names
        if c[:2].isdigit() and 87 <= int(c[:2]) <= 99 and c not in tables.or_procs
    )  # fmt: skip
    common = [c for c, _ in COMMON_NON_OR_PROCS]
    common_p = np.array([w for _, w in COMMON_NON_OR_PROCS])
    common_p /= common_p.sum()

    def pick(codes: Sequence[str]) -> str:
        return codes[int(rng.integers(len(codes)))]

    def non_or_proc() -> str:
        if rng.random() < 0.7:
            return common[int(rng.choice(len(common), p=common_p))]
        return pick(non_or)

    categories: dict[int, dict[str, list[str]]] = {}  # id(pool) → codes by category

    rows: list[_Row] = []
    kinds = rng.choice(3, size=n, p=_TAIL_KIND_SHARE)
    for kind in kinds.tolist():
        adrg = by_kind[kind][int(rng.choice(len(by_kind[kind]), p=adrg_p[kind]))]
        mdc = adrg[0]
        roles = tables.adrg_codes[adrg]
        dx_pool = roles.get("dx") or tables.mdc_dx[mdc]
        if id(dx_pool) not in categories:
            categories[id(dx_pool)] = _by_category(dx_pool)
        dx = pick(dx_pool)
        category = categories[id(dx_pool)][dx[:3]]
        procs: list[str] = []
        if kind == KIND_MEDICAL:
            if rng.random() < 0.25:
                procs.append(non_or_proc())
        else:
            ops = roles["op"]
            procs.append(pick(ops))
            if kind == KIND_SURGICAL and rng.random() < 0.25 and len(ops) > 1:
                second = pick(ops)
                if second not in procs:
                    procs.append(second)
            if rng.random() < 0.15:
                extra = non_or_proc()
                if extra not in procs:
                    procs.append(extra)
        median, sigma = _TAIL_COST[kind]
        cost = float(np.clip(median * rng.lognormal(0.0, sigma), *BASE_COST_RANGE))
        row = _Row(
            kind=kind, mdc=mdc, dx_family=_family(dx, category, rng), procs=procs, cost=cost,
            los=_los_for(cost, kind), age_mean=float(rng.uniform(30, 75)), age_sd=15.0,
            male=float(rng.uniform(0.35, 0.65)), child=0.05 if rng.random() < 0.3 else 0.0,
            infant=0.0,
        )  # fmt: skip
        if rng.random() < SIBLING_TYPE_SHARE:
            row.dx_siblings = _siblings(dx, category, rng)
            row.sibling_share = float(rng.uniform(*SIBLING_CASE_SHARE)) if row.dx_siblings else 0.0
        if procs and rng.random() < VARIANT_TYPE_SHARE:
            variant = non_or_proc()
            if variant not in procs:
                row.variant, row.variant_rate = variant, float(rng.uniform(*VARIANT_CASE_SHARE))
        rows.append(row)
    return rows


@lru_cache(maxsize=1)
def load_catalog() -> CaseTypes:
    """Build (once) the fixed case-type catalogue from the reference tables."""
    tables = load_code_tables()
    rng = np.random.default_rng(CATALOG_SEED)
    rows = _head_rows(tables)
    rows += _tail_rows(tables, N_CASE_TYPES - len(rows), rng)

    n = len(rows)
    rank = np.arange(n, dtype=np.float64)
    weight = 1.0 / (rank + ZIPF_OFFSET) ** ZIPF_EXPONENT
    rule = np.array([_rule_for(r.dx_family[0], r.mdc) for r in rows], dtype=np.int8)

    sizes = np.array([len(r.dx_family) for r in rows], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    sib_sizes = np.array([len(r.dx_siblings) for r in rows], dtype=np.int64)
    sib_offsets = np.concatenate([[0], np.cumsum(sib_sizes)[:-1]])

    def alias(codes: list[str], table: dict[str, tuple[str, ...]]) -> str | None:
        """The first old spelling of one of ``codes``."""
        for code in codes:
            if code in table:
                return table[code][0]
        return None

    def dx_alias(row: _Row, type_rule: int) -> str | None:
        """An old spelling of a family code whose own sex/age rule is the type's."""
        for code in row.dx_family:
            for old in tables.dx_old_by_new.get(code, ()):
                if _rule_for(old, row.mdc) == type_rule:
                    return old
        return None

    # Tail types take their ages from the sex/age rule (head types state theirs).
    tail = np.arange(n) >= len(_HEAD)
    pelvic = np.array([r.dx_family[0][0] == "N" for r in rows])
    age_mean = np.array([r.age_mean for r in rows])
    age_sd = np.array([r.age_sd for r in rows])
    by_rule = [
        (tail & (rule == RULE_FEMALE_REPRO) & pelvic, 38.0, 9.0),
        (tail & (rule == RULE_FEMALE_REPRO) & ~pelvic, 29.0, 5.5),
        (tail & (rule == RULE_FEMALE), 50.0, 13.0),
        (tail & (rule == RULE_MALE), 62.0, 14.0),
    ]
    for mask, mean, sd in by_rule:
        age_mean[mask], age_sd[mask] = mean, sd
    birth_weight = np.where(
        rule == RULE_NEWBORN,
        np.array([2100.0 if r.dx_family[0].startswith("P07") else 3250.0 for r in rows]),
        np.nan,
    )
    return CaseTypes(
        weight=weight / weight.sum(),
        kind=np.array([r.kind for r in rows], dtype=np.int8),
        mdc=np.array([r.mdc for r in rows], dtype="<U1"),
        rule=rule,
        dx_offset=offsets,
        dx_size=sizes,
        dx_codes=pl.Series("dx", [c for r in rows for c in r.dx_family], dtype=pl.String),
        sib_offset=sib_offsets,
        sib_size=sib_sizes,
        sib_codes=pl.Series("sib", [c for r in rows for c in r.dx_siblings], dtype=pl.String),
        sibling_share=np.array([r.sibling_share for r in rows]),
        dx_alias=pl.Series(
            "dx_alias",
            [dx_alias(r, int(rl)) for r, rl in zip(rows, rule, strict=True)],
            dtype=pl.String,
        ),
        main_proc=pl.Series(
            "main_proc", [r.procs[0] if r.procs else None for r in rows], dtype=pl.String
        ),
        other_procs=pl.Series(
            "other_procs", [";".join(r.procs[1:]) or None for r in rows], dtype=pl.String
        ),
        proc_alias=pl.Series(
            "proc_alias",
            [alias(r.procs[:1], tables.proc_old_by_new) for r in rows],
            dtype=pl.String,
        ),
        variant_proc=pl.Series("variant_proc", [r.variant for r in rows], dtype=pl.String),
        variant_rate=np.array([r.variant_rate for r in rows]),
        base_cost=np.array([r.cost for r in rows]),
        base_los=np.array([r.los for r in rows]),
        age_mean=age_mean,
        age_sd=age_sd,
        male_share=np.array([r.male for r in rows]),
        child_share=np.array([r.child for r in rows]),
        infant_share=np.array([r.infant for r in rows]),
        birth_weight_mean=birth_weight,
    )
