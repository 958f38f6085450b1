"""The gaming plan: which behaviours, in which hospitals, at what rates, in which years;
read from YAML and checked against the city."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

import polars as pl
import yaml

from dip_sim.synth.hospitals import load_hospitals

BEHAVIOURS: dict[str, str] = {
    "split_admission": "分解住院",
    "low_standard_admission": "低标准入院",
    "upcoding_procedure": "高套编码（手术操作）",
    "upcoding_added_procedure": "高套编码（加编手术操作）",
    "upcoding_severity": "高套编码（严重并发症）",
    "long_stay": "超长住院",
}
_PLAN_KEYS = ("hospitals", "rate", "years")


class PlanError(ValueError):
    """A gaming plan that is malformed or cannot be planted in the city."""


# ---------------------------------------------------------------------------------------------
# The plan


def load_plan(path: Path, city_dir: Path | None = None) -> dict[str, dict]:
    """The plan in the YAML file ``path``, checked (:func:`check_plan`).

    Hospitals are checked against ``city_dir/hospitals.csv`` when given, else against the
    generator's hospital list.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanError(f"无法读取植入计划 {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise PlanError(f"植入计划 {path} 不是有效的 YAML: {exc}") from None
    hospitals = (_city_hospitals(Path(city_dir))["hospital_id"].to_list() if city_dir
                 else list(load_hospitals().hospital_id))
    return check_plan(raw, hospitals, where=path.name)


def check_plan(plan: object, hospital_ids: Collection[str], where: str = "植入计划"
               ) -> dict[str, dict]:
    """``plan`` with every entry checked: ``{behaviour: {hospitals, rate, years}}``.

    Refuses (``PlanError``, naming the entry) an unknown behaviour or key, a hospital not in
    ``hospital_ids`` or named twice, a rate outside (0, 1] and years that are not integers.
    """
    if not isinstance(plan, Mapping) or not plan:
        raise PlanError(f"{where}: 应为非空映射 behaviour → {{hospitals, rate, years}}")
    known = set(hospital_ids)
    out: dict[str, dict] = {}
    for behaviour, entry in plan.items():
        at = f"{where}: {behaviour}"
        if behaviour not in BEHAVIOURS:
            raise PlanError(f"{where}: 未知的违规行为 unknown behaviour {behaviour!r}"
                            f"（可选: {', '.join(BEHAVIOURS)}）")
        if not isinstance(entry, Mapping):
            raise PlanError(f"{at}: 应为映射，含 {', '.join(_PLAN_KEYS)}")
        extra, missing = set(entry) - set(_PLAN_KEYS), [k for k in _PLAN_KEYS if k not in entry]
        if extra or missing:
            raise PlanError(f"{at}: 应有 {', '.join(_PLAN_KEYS)}"
                            + (f"，缺少 {', '.join(missing)}" if missing else "")
                            + (f"，未知的键 {', '.join(sorted(map(str, extra)))}" if extra else ""))
        hospitals = entry["hospitals"]
        if isinstance(hospitals, str):
            hospitals = [hospitals]
        if not isinstance(hospitals, list) or not hospitals:
            raise PlanError(f"{at}: hospitals 应为非空的医院代码列表")
        for h in hospitals:
            if h not in known:
                raise PlanError(f"{at}: 医院 {h!r} 不在城市的医院表中 (hospital not in the city)")
        if len(set(hospitals)) != len(hospitals):
            raise PlanError(f"{at}: hospitals 中有重复的医院")
        rate = entry["rate"]
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 1:
            raise PlanError(f"{at}: rate 应为 (0, 1] 内的比例 (share of discharges)，收到 {rate!r}")
        years = entry["years"]
        if isinstance(years, int) and not isinstance(years, bool):
            years = [years]
        if (not isinstance(years, list) or not years
                or any(isinstance(y, bool) or not isinstance(y, int) for y in years)):
            raise PlanError(f"{at}: years 应为年度（整数）列表，收到 {years!r}")
        out[behaviour] = {"hospitals": [str(h) for h in hospitals], "rate": float(rate),
                          "years": sorted(set(years))}
    return out


def _planned(rate: float, discharges: int) -> int:
    """Cases to affect: ``rate`` of the discharges, at least one where there are any."""
    return max(1, round(rate * discharges)) if discharges else 0


def _city_hospitals(city_dir: Path) -> pl.DataFrame:
    """The city's hospitals (id and level), from its ``hospitals.csv``."""
    path = city_dir / "hospitals.csv"
    if not path.is_file():
        raise PlanError(f"{city_dir} 中没有 hospitals.csv：植入违规行为需要 dip-sim synth 写出的"
                        f" CSV 城市（--format csv）")
    return pl.read_csv(path, infer_schema=False).select("hospital_id", "level")
