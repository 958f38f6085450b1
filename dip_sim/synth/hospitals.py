"""The hospitals of the model city, Yangquan (阳泉市, Shanxi): names, levels, counties, volumes.

The list is fixed so that hospital ids are stable from one run (and one seed) to the next. An
id is ``H`` + the county's administrative division code + a 3-digit sequence within the
county, e.g. ``H140302001`` for 阳泉市第一人民医院 in 城区. Names follow the city's real
hospitals and township health centres; the volumes, levels of some and all costs are made up.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl

# Administrative division codes of Yangquan's five counties/districts.
COUNTY_CODES: dict[str, str] = {
    "城区": "140302",
    "矿区": "140303",
    "郊区": "140311",
    "平定县": "140321",
    "盂县": "140322",
}

# Case-mix profile of a hospital: a general hospital, or a maternal and child health hospital
# (妇幼保健院) that mostly treats pregnancy, gynaecology and newborn cases.
GENERAL = "general"
MATERNAL = "maternal"

# Cost level relative to a level-3 hospital for the same case type (price and intensity tiers).
LEVEL_COST_FACTOR: dict[int, float] = {3: 1.0, 2: 0.8, 1: 0.6}

# Seed of the fixed per-hospital cost factor (independent of the generation seed, so stable).
_HOSPITAL_FACTOR_SEED = 140300

# (name, level, county, relative annual volume, profile)
_HOSPITALS: tuple[tuple[str, int, str, float, str], ...] = (
    ("阳泉市第一人民医院", 3, "城区", 27.0, GENERAL),
    ("阳煤集团总医院", 3, "矿区", 23.0, GENERAL),
    ("阳泉市第三人民医院", 2, "矿区", 5.5, GENERAL),
    ("阳泉市第二人民医院", 2, "城区", 4.5, GENERAL),
    ("阳泉市中医医院", 2, "城区", 3.5, GENERAL),
    ("阳泉市妇幼保健院", 2, "城区", 2.5, MATERNAL),
    ("阳泉市第四人民医院", 2, "郊区", 1.5, GENERAL),
    ("阳煤集团二矿医院", 2, "矿区", 2.0, GENERAL),
    ("阳煤集团三矿医院", 2, "矿区", 1.5, GENERAL),
    ("阳煤集团四矿医院", 2, "郊区", 1.2, GENERAL),
    ("城区人民医院", 2, "城区", 1.5, GENERAL),
    ("矿区人民医院", 2, "矿区", 1.5, GENERAL),
    ("郊区人民医院", 2, "郊区", 2.0, GENERAL),
    ("平定县人民医院", 2, "平定县", 4.5, GENERAL),
    ("平定县中医医院", 2, "平定县", 1.3, GENERAL),
    ("平定县妇幼保健院", 2, "平定县", 0.8, MATERNAL),
    ("盂县人民医院", 2, "盂县", 4.5, GENERAL),
    ("盂县中医医院", 2, "盂县", 1.2, GENERAL),
    ("盂县妇幼保健院", 2, "盂县", 0.8, MATERNAL),
    ("平定县冠山镇卫生院", 1, "平定县", 0.6, GENERAL),
    ("平定县冶西镇卫生院", 1, "平定县", 0.4, GENERAL),
    ("平定县锁簧镇卫生院", 1, "平定县", 0.4, GENERAL),
    ("平定县张庄镇卫生院", 1, "平定县", 0.35, GENERAL),
    ("平定县娘子关镇卫生院", 1, "平定县", 0.35, GENERAL),
    ("平定县巨城镇卫生院", 1, "平定县", 0.3, GENERAL),
    ("盂县秀水镇卫生院", 1, "盂县", 0.6, GENERAL),
    ("盂县孙家庄镇卫生院", 1, "盂县", 0.4, GENERAL),
    ("盂县路家村镇卫生院", 1, "盂县", 0.35, GENERAL),
    ("盂县南娄镇卫生院", 1, "盂县", 0.4, GENERAL),
    ("盂县牛村镇卫生院", 1, "盂县", 0.3, GENERAL),
    ("盂县苌池镇卫生院", 1, "盂县", 0.3, GENERAL),
    ("盂县西烟镇卫生院", 1, "盂县", 0.35, GENERAL),
    ("郊区荫营镇卫生院", 1, "郊区", 0.5, GENERAL),
    ("郊区河底镇卫生院", 1, "郊区", 0.35, GENERAL),
    ("郊区平坦镇卫生院", 1, "郊区", 0.35, GENERAL),
    ("郊区义井镇卫生院", 1, "郊区", 0.4, GENERAL),
    ("郊区李家庄乡卫生院", 1, "郊区", 0.25, GENERAL),
    ("郊区旧街乡卫生院", 1, "郊区", 0.25, GENERAL),
)


@dataclass(frozen=True)
class Hospitals:
    """The hospital list as aligned arrays (index = position in the list)."""

    hospital_id: tuple[str, ...]
    hospital_name: tuple[str, ...]
    level: np.ndarray  # int8
    county: tuple[str, ...]
    volume_share: np.ndarray  # float64, sums to 1
    profile: tuple[str, ...]
    cost_factor: np.ndarray  # float64: level factor × a fixed hospital-specific factor

    def __len__(self) -> int:
        return len(self.hospital_id)

    def to_frame(self) -> pl.DataFrame:
        """The ``hospitals`` input file: ``hospital_id, hospital_name, level, county``."""
        return pl.DataFrame(
            {
                "hospital_id": list(self.hospital_id),
                "hospital_name": list(self.hospital_name),
                "level": pl.Series(self.level.astype(np.int32)),
                "county": list(self.county),
            }
        )


@lru_cache(maxsize=1)
def load_hospitals() -> Hospitals:
    """Build the fixed hospital list with stable ids, volume shares and cost factors."""
    seq: dict[str, int] = {}
    ids: list[str] = []
    for _name, _level, county, _vol, _profile in _HOSPITALS:
        seq[county] = seq.get(county, 0) + 1
        ids.append(f"H{COUNTY_CODES[county]}{seq[county]:03d}")
    level = np.array([h[1] for h in _HOSPITALS], dtype=np.int8)
    volume = np.array([h[3] for h in _HOSPITALS], dtype=np.float64)
    own = np.random.default_rng(_HOSPITAL_FACTOR_SEED).lognormal(0.0, 0.06, len(_HOSPITALS))
    level_factor = np.array([LEVEL_COST_FACTOR[int(lv)] for lv in level])
    return Hospitals(
        hospital_id=tuple(ids),
        hospital_name=tuple(h[0] for h in _HOSPITALS),
        level=level,
        county=tuple(h[2] for h in _HOSPITALS),
        volume_share=volume / volume.sum(),
        profile=tuple(h[4] for h in _HOSPITALS),
        cost_factor=level_factor * own,
    )
