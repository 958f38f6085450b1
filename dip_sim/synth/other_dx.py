"""Secondary diagnoses (``other_dx``): pools of common comorbidities by age group.

Older adults (45+) mostly get the chronic conditions that fill Chinese discharge records
(hypertension, type 2 diabetes, coronary heart disease, old cerebral infarction,
hyperlipidaemia …) plus, for a quarter of the draws, any sex-neutral ICD-10 code (the long
tail). Younger adults get milder conditions and more of the tail; children and newborns get
their own short lists. No pool holds a sex- or age-specific code (chapters O and P for adults,
N40–N99, C/D genital tumours).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl

from dip_sim.synth.codes import load_code_tables

MAX_OTHER_DX = 6
RANDOM_ADULT_OTHER_DX_SHARE = 0.25  # share of older adults' draws from any sex-neutral code
RANDOM_YOUNG_OTHER_DX_SHARE = 0.5  # same for adults aged 15–44
# First letters of the codes the random tail is drawn from (no C/D tumours, N, O, P, Q, S–Z).
_NEUTRAL_CHAPTERS = frozenset("ABEFGHIJKLMR")
# Sex-specific codes in those chapters (obstetric tetanus, vulvovaginal candidiasis, ovarian /
# testicular dysfunction, sexual and puerperal disorders, scrotal / vulval varices …).
_NEUTRAL_EXCLUDED_PREFIXES = (
    "A34", "B37.3", "E28", "E29", "E89.4", "E89.5", "F52", "F53", "I86.1", "I86.3", "L29.1",
    "L29.2", "M80.0", "M81.0", "R86", "R87",
)  # fmt: skip

ADULT_COMORBIDITIES: tuple[tuple[str, float], ...] = (
    ("I10.x00", 10.0),  # 高血压
    ("E11.900", 6.0),  # 2型糖尿病
    ("I25.103", 5.0),  # 冠状动脉粥样硬化性心脏病
    ("I69.300x002", 3.0),  # 陈旧性脑梗死
    ("E78.500", 3.0),  # 高脂血症
    ("J98.414", 2.5),  # 肺部感染
    ("K76.000", 2.0),  # 脂肪肝
    ("D64.900", 2.0),  # 贫血
    ("I67.200", 2.0),  # 大脑动脉粥样硬化
    ("K29.700", 2.0),  # 胃炎
    ("E87.600", 1.5),  # 低钾血症
    ("I48.000", 1.5),  # 阵发性心房颤动
    ("I50.900", 1.5),  # 心力衰竭
    ("J44.900", 1.5),  # 慢性阻塞性肺病
    ("I70.203", 1.5),  # 下肢动脉粥样硬化
    ("E79.000", 1.2),  # 高尿酸血症
    ("N18.300", 1.0),  # 慢性肾脏病3期
    ("K80.200", 1.0),  # 胆囊结石不伴有胆囊炎
    ("E87.100", 1.0),  # 低钠血症
    ("E04.100", 1.0),  # 甲状腺结节
    ("N28.100", 1.0),  # 肾囊肿
    ("G47.000", 0.8),  # 失眠
    ("I25.200", 0.8),  # 陈旧性心肌梗死
    ("Z95.501", 0.8),  # 冠状动脉支架植入后状态
    ("E72.101", 0.8),  # 高同型半胱氨酸血症
    ("B18.100", 0.6),  # 慢性乙型病毒性肝炎
    ("E66.900", 0.5),  # 肥胖症
    ("F32.900", 0.4),  # 抑郁发作
    ("K64.900", 0.4),  # 痔
)
YOUNG_ADULT_COMORBIDITIES: tuple[tuple[str, float], ...] = (
    ("K76.000", 3.0),  # 脂肪肝
    ("E78.500", 2.0),  # 高脂血症
    ("D64.900", 2.0),  # 贫血
    ("J98.414", 1.5),  # 肺部感染
    ("K29.700", 1.5),  # 胃炎
    ("E04.100", 1.5),  # 甲状腺结节
    ("I10.x00", 1.5),  # 高血压
    ("B18.100", 1.0),  # 慢性乙型病毒性肝炎
    ("E66.900", 1.0),  # 肥胖症
    ("N28.100", 0.8),  # 肾囊肿
    ("J30.400", 0.8),  # 变应性鼻炎
    ("K64.900", 0.8),  # 痔
    ("G47.000", 0.6),  # 失眠
    ("E87.600", 0.6),  # 低钾血症
)
CHILD_COMORBIDITIES: tuple[tuple[str, float], ...] = (
    ("J06.900", 3.0),  # 急性上呼吸道感染
    ("R50.900", 2.0),  # 发热
    ("J20.900", 2.0),  # 急性支气管炎
    ("D64.900", 1.0),  # 贫血
    ("E55.900", 1.0),  # 维生素D缺乏病
    ("K59.000", 1.0),  # 便秘
    ("J35.000", 1.0),  # 慢性扁桃体炎
    ("J30.400", 1.0),  # 变应性鼻炎
    ("A09.000", 1.0),  # 胃肠炎
    ("E86.x00", 0.8),  # 血容量缺失
)
NEWBORN_COMORBIDITIES: tuple[tuple[str, float], ...] = (
    ("Z38.000", 3.0),  # 单胎，在医院内出生
    ("P59.900", 3.0),  # 新生儿黄疸
    ("P92.900", 1.5),  # 新生儿喂养问题
    ("P22.100", 1.0),  # 新生儿短暂性呼吸急促
    ("P39.900", 1.0),  # 特发于围生期的感染
    ("P21.100", 1.0),  # 轻度和中度出生窒息
    ("Q21.100", 0.8),  # 房间隔缺损
)

POOL_ADULT, POOL_YOUNG, POOL_CHILD, POOL_NEWBORN = 0, 1, 2, 3
_POOLS = (POOL_ADULT, POOL_YOUNG, POOL_CHILD, POOL_NEWBORN)


@dataclass(frozen=True)
class OtherDxPools:
    """All codes in one Series: the sex-neutral tail first, then each pool's listed codes."""

    codes: pl.Series
    n_neutral: int  # the first n_neutral codes are the tail
    offset: tuple[int, ...]  # start of each pool's listed codes
    cdf: tuple[np.ndarray, ...]  # cumulative weights of each pool's listed codes
    tail_share: tuple[float, ...]  # share of each pool's draws taken from the tail


@lru_cache(maxsize=1)
def load_other_dx_pools() -> OtherDxPools:
    """Build (once) the adult, young adult, child and newborn pools, checked against ZD_INFO."""
    dx_names = load_code_tables().dx_names
    listed = {
        POOL_ADULT: (ADULT_COMORBIDITIES, RANDOM_ADULT_OTHER_DX_SHARE),
        POOL_YOUNG: (YOUNG_ADULT_COMORBIDITIES, RANDOM_YOUNG_OTHER_DX_SHARE),
        POOL_CHILD: (CHILD_COMORBIDITIES, 0.0),
        POOL_NEWBORN: (NEWBORN_COMORBIDITIES, 0.0),
    }
    for pool_codes, _ in listed.values():
        for code, _w in pool_codes:
            if code not in dx_names:
                raise ValueError(f"comorbidity code {code} not in ZD_INFO")
    codes = [
        c for c in dx_names
        if c[0] in _NEUTRAL_CHAPTERS and not c.startswith(_NEUTRAL_EXCLUDED_PREFIXES)
    ]  # fmt: skip
    n_neutral = len(codes)
    offsets: list[int] = []
    cdfs: list[np.ndarray] = []
    for p in _POOLS:
        pool_codes, _share = listed[p]
        offsets.append(len(codes))
        codes.extend(c for c, _ in pool_codes)
        cdf = np.cumsum([w for _, w in pool_codes])
        cdfs.append(cdf / cdf[-1])
    return OtherDxPools(
        codes=pl.Series("other_dx", codes, dtype=pl.String),
        n_neutral=n_neutral,
        offset=tuple(offsets),
        cdf=tuple(cdfs),
        tail_share=tuple(listed[p][1] for p in _POOLS),
    )


def sample_other_dx(pool: np.ndarray, count: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """``;``-joined secondary diagnoses: ``count`` distinct draws from each case's ``pool``.

    Returns null where a case has none.
    """
    pools = load_other_dx_pools()
    n = len(pool)
    idx = np.zeros((n, MAX_OTHER_DX), dtype=np.int64)
    for p in _POOLS:
        rows = np.flatnonzero(pool == p)
        u = rng.random((len(rows), MAX_OTHER_DX))
        share = pools.tail_share[p]
        listed = np.searchsorted(pools.cdf[p], (u - share) / (1.0 - share), side="right")
        listed = np.minimum(listed, len(pools.cdf[p]) - 1) + pools.offset[p]
        if share > 0:
            tail = np.minimum((u / share * pools.n_neutral).astype(np.int64), pools.n_neutral - 1)
            listed = np.where(u < share, tail, listed)
        idx[rows] = listed
    empty = np.iinfo(np.int64).max
    idx = np.where(np.arange(MAX_OTHER_DX)[None, :] < count[:, None], idx, empty)
    idx.sort(axis=1)
    idx[:, 1:] = np.where(idx[:, 1:] == idx[:, :-1], empty, idx[:, 1:])
    idx.sort(axis=1)

    columns = []
    for j in range(MAX_OTHER_DX):
        valid = idx[:, j] != empty
        codes = pools.codes.gather(np.where(valid, idx[:, j], 0))
        columns.append(pl.Series(f"d{j}", codes).set(pl.Series(~valid), None))
    frame = pl.DataFrame(columns)
    joined = frame.select(
        pl.concat_str(pl.all(), separator=";", ignore_nulls=True).alias("other_dx")
    ).to_series()
    return joined.replace("", None)
