"""A synthetic province: several cities, each a pooling region (统筹区) of its own.

``dip-sim synth --regions N`` writes one hospital table and one case and settlement file per
year for N cities. Each city is the model city's hospital list under the city's name and
医保区划 code (Shanxi's cities first, then numbered ones), with its own size (cases a year),
case mix (the hospitals' shares of the cases, so the mix of levels and specialties) and cost
level (a factor on every hospital's costs), all drawn from the seed; every hospital names its
city in ``region`` and ``region_name``. A city's rows come from its own random streams, so
they do not depend on how many cities are written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl

from dip_sim.schema import HOSPITAL_COLUMNS
from dip_sim.synth.catalog import load_catalog
from dip_sim.synth.generator import _write, generate_year, write_year_files
from dip_sim.synth.hospitals import Hospitals, load_hospitals

# Shanxi's cities (地级市) with their administrative division codes; the model city is 阳泉
CITIES: tuple[tuple[str, str], ...] = (
    ("140100", "太原市"), ("140200", "大同市"), ("140300", "阳泉市"), ("140400", "长治市"),
    ("140500", "晋城市"), ("140600", "朔州市"), ("140700", "晋中市"), ("140800", "运城市"),
    ("140900", "忻州市"), ("141000", "临汾市"), ("141100", "吕梁市"),
)
MODEL_CITY = "阳泉市"
# spread of the cities' draws: size (cases a year, relative), case mix (each hospital's share
# of the cases), cost level (a factor on every cost)
SIZE_SIGMA = 0.6
MIX_SIGMA = 0.8
COST_SIGMA = 0.12


def city(k: int) -> tuple[str, str]:
    """The code and name of the province's ``k``-th city (from 0)."""
    if k < len(CITIES):
        return CITIES[k]
    return f"19{k:02d}00", f"第{k + 1}市"


def city_hospitals(k: int, seed: int) -> tuple[Hospitals, float]:
    """The hospitals of city ``k`` (ids and names of its own, its case mix and cost level)
    and its relative size."""
    base = load_hospitals()
    code, name = city(k)
    rng = np.random.default_rng([seed, 9_000 + k])
    size = float(rng.lognormal(0.0, SIZE_SIGMA))
    share = base.volume_share * rng.lognormal(0.0, MIX_SIGMA, len(base))
    cost = float(rng.lognormal(0.0, COST_SIGMA))
    ids = tuple(f"H{code[:4]}{h[5:]}" for h in base.hospital_id)
    names = tuple(n.replace(MODEL_CITY, name) if MODEL_CITY in n else f"{name}{n}"
                  for n in base.hospital_name)
    return replace(base, hospital_id=ids, hospital_name=names,
                   volume_share=share / share.sum(), cost_factor=base.cost_factor * cost), size


def generate_province(out_dir: Path, n_regions: int, years: Sequence[int],
                      cases_per_year: int, seed: int, file_format: str = "csv",
                      progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Write a province of ``n_regions`` cities into ``out_dir`` (``cases_per_year``: the
    cities' mean); the number of rows written."""
    if file_format not in ("csv", "parquet"):
        raise ValueError(f"多统筹区的合成数据只支持 csv 或 parquet 格式，收到 {file_format!r}")
    say = progress or (lambda _msg: None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cities = [city_hospitals(k, seed) for k in range(n_regions)]
    sizes = np.array([size for _, size in cities])
    n_cases = np.maximum(1, np.round(cases_per_year * sizes / sizes.mean())).astype(int)
    frames = []
    for k, (hospitals, _) in enumerate(cities):
        code, name = city(k)
        frames.append(hospitals.to_frame().with_columns(region=pl.lit(code),
                                                        region_name=pl.lit(name)))
        say(f"{code} {name}: {len(hospitals)} 家医院，每年约 {n_cases[k]:,} 例")
    _write(pl.concat(frames), out_dir / f"hospitals.{file_format}", HOSPITAL_COLUMNS)
    counts = {"regions": n_regions, "hospitals": sum(len(h) for h, _ in cities), "cases": 0,
              "settlements": 0}
    types = load_catalog()
    for year in sorted({int(y) for y in years}):
        cases, settlements = [], []
        for k, (hospitals, _) in enumerate(cities):
            c, s = generate_year(year, int(n_cases[k]), seed + 7_919 * (k + 1), hospitals, types)
            cases.append(c)
            settlements.append(s)
        year_cases, year_settlements = pl.concat(cases), pl.concat(settlements)
        write_year_files(year_cases, year_settlements, out_dir, year, file_format)
        counts["cases"] += year_cases.height
        counts["settlements"] += year_settlements.height
        say(f"省 {year}：{year_cases.height} 例，结算 {year_settlements.height} 条")
    return counts
