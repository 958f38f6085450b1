"""Parameter files: one YAML per section in ``data/policy/``, one entry per concept.

Each entry holds a description, a unit, a type, the source (``reference``) and ``values``
keyed by the date they take effect (OpenFisca style). A run reads the value in force on
1 January of the simulation year. Types are checked here so that a scenario overlay with a
wrong value is refused before any stage runs.

A pooling region (统筹区) may have values of its own: ``regions`` maps a region's code to its
dated values, which replace ``values`` for that region from their first date on::

    growth_rate:
      ...
      values:
        2017-01-01: 0.05
      regions:
        "320200":
          2019-01-01: 0.06

The sections of :data:`SETTINGS_SECTIONS` (``data/policy/regions.yaml``: the code and name of
the one region of a city whose hospitals name none) set up the run rather than a rule: they are
read by the simulation driver and are not among a run's parameters.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dip_sim.paths import POLICY_DIR
from dip_sim.yaml_files import read_yaml

# the files read to set up a run (not parameters of the models, nor recorded with a run)
SETTINGS_SECTIONS: tuple[str, ...] = ("regions",)


class PolicyError(ValueError):
    """A parameter file or a scenario is not valid; the message names the parameter."""


@dataclass(frozen=True)
class Parameter:
    """One policy parameter with its metadata and dated values."""

    name: str  # dotted: section.key, e.g. "budget.growth_rate"
    description: str
    unit: str
    type: str
    reference: str
    values: dict[dt.date, Any]
    choices: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    # region code → its own dated values (the ``regions`` field of the entry)
    regional: dict[str, dict[dt.date, Any]] = field(default_factory=dict)

    def own_start(self, day: dt.date, region: str | None) -> dt.date | None:
        """The start date of ``region``'s own value in force on ``day`` (None: the region
        takes the city's value that day)."""
        own = [d for d in self.regional.get(region or "", {}) if d <= day]
        return max(own) if own else None

    def value_on(self, day: dt.date, region: str | None = None) -> Any:
        """The value in force on ``day``: the one with the latest start date not after it (in
        ``region``, that region's own value once one is in force)."""
        start = self.own_start(day, region)
        if start is not None:
            return self.regional[region or ""][start]
        starts = [d for d in self.values if d <= day]
        if not starts:
            first = min(self.values)
            raise PolicyError(f"参数 {self.name} 在 {day} 尚未生效（最早生效日 {first}）")
        return self.values[max(starts)]

    def check(self, value: Any) -> Any:
        """Return ``value`` normalised to this parameter's type, or raise naming the parameter."""
        return check_value(self, value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_value(param: Parameter, value: Any) -> Any:
    """Validate and normalise one value for ``param`` (see the ``type`` field of the files)."""
    name, kind = param.name, param.type

    def bounded(x: float) -> float:
        if param.min is not None and x < param.min:
            raise PolicyError(f"参数 {name} 的值 {x} 小于下限 {param.min}")
        if param.max is not None and x > param.max:
            raise PolicyError(f"参数 {name} 的值 {x} 大于上限 {param.max}")
        return x

    if kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise PolicyError(f"参数 {name} 应为整数，收到 {value!r}")
        return int(bounded(value))
    if kind == "float":
        if not _is_number(value):
            raise PolicyError(f"参数 {name} 应为数值，收到 {value!r}")
        return float(bounded(value))
    if kind == "float_or_null":
        if value is None:
            return None
        if not _is_number(value):
            raise PolicyError(f"参数 {name} 应为数值或 null，收到 {value!r}")
        return float(bounded(value))
    if kind == "bool":
        if not isinstance(value, bool):
            raise PolicyError(f"参数 {name} 应为 true 或 false，收到 {value!r}")
        return value
    if kind == "enum_list":
        if not isinstance(value, list) or any(v not in param.choices for v in value) \
                or len(set(value)) != len(value):
            raise PolicyError(f"参数 {name} 应为 {list(param.choices)} 中不重复的若干项，收到 {value!r}")
        return list(value)
    if kind == "file_or_null":
        # a file name (under the directory the parameter's description names), or null
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise PolicyError(f"参数 {name} 应为文件名或 null，收到 {value!r}")
        return value.strip()
    if kind == "text":
        if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
            raise PolicyError(f"参数 {name} 应为非空文本，收到 {value!r}")
        return str(value).strip()
    if kind == "enum":
        if value not in param.choices:
            raise PolicyError(f"参数 {name} 应为 {list(param.choices)} 之一，收到 {value!r}")
        return value
    if kind == "weights":
        if (
            not isinstance(value, list)
            or not value
            or not all(_is_number(v) and v >= 0 for v in value)
            or sum(value) <= 0
        ):
            raise PolicyError(f"参数 {name} 应为非负数值列表（至少一个为正），收到 {value!r}")
        return [float(v) for v in value]
    if kind == "int_list":
        if (not isinstance(value, list) or not value
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
            raise PolicyError(f"参数 {name} 应为整数列表，收到 {value!r}")
        return [int(bounded(v)) for v in value]
    if kind == "bands":
        # [[lower bound, value], ...]: the value of the first band whose bound the score
        # reaches, bounds descending and the last one catching every score
        if (not isinstance(value, list) or not value
                or not all(isinstance(b, list) and len(b) == 2 and all(map(_is_number, b))
                           for b in value)):
            raise PolicyError(f"参数 {name} 应为 [[下限, 值], …] 的列表，收到 {value!r}")
        bounds = [float(b[0]) for b in value]
        if bounds != sorted(bounds, reverse=True) or len(set(bounds)) != len(bounds):
            raise PolicyError(f"参数 {name} 的下限应从高到低且不重复，收到 {bounds}")
        return [[float(b[0]), float(bounded(b[1]))] for b in value]
    if kind == "level_map":
        if not isinstance(value, dict) or not value:
            raise PolicyError(f"参数 {name} 应为 等级 → 系数 的映射，收到 {value!r}")
        out = {}
        for level, coef in value.items():
            try:
                level_int = int(level)
            except (TypeError, ValueError):
                raise PolicyError(f"参数 {name} 的键 {level!r} 不是医院等级 (1/2/3)") from None
            if level_int not in (1, 2, 3) or not _is_number(coef) or coef <= 0:
                raise PolicyError(f"参数 {name} 的项 {level!r}: {coef!r} 无效（等级 1/2/3，系数 > 0）")
            out[level_int] = float(coef)
        return out
    raise PolicyError(f"参数 {name} 的类型 {kind!r} 未知")


def _as_date(key: Any, name: str) -> dt.date:
    if isinstance(key, dt.date):
        return key
    try:
        return dt.date.fromisoformat(str(key))
    except ValueError:
        raise PolicyError(f"参数 {name} 的生效日期 {key!r} 不是 YYYY-MM-DD") from None


def region_value(param: Parameter, region: Any, value: Any) -> Any:
    """``value`` checked as ``param``'s value in ``region``; the error names both."""
    try:
        return check_value(param, value)
    except PolicyError as exc:
        raise PolicyError(f"统筹区 {region}：{exc}") from None


def _regional(param: Parameter, spec: Any) -> dict[str, dict[dt.date, Any]]:
    """The ``regions`` field of a parameter entry, checked: region code → dated values."""
    if spec is None:
        return {}
    if not isinstance(spec, dict):
        raise PolicyError(f"参数 {param.name} 的 regions 应为 统筹区编码 → {{生效日期: 值}} 的映射")
    out: dict[str, dict[dt.date, Any]] = {}
    for region, dated in spec.items():
        code = str(region).strip()
        if not code:
            raise PolicyError(f"参数 {param.name} 的 regions 中有空的统筹区编码")
        if not isinstance(dated, dict) or not dated:
            raise PolicyError(f"参数 {param.name} 在统筹区 {code} 的取值应为 {{生效日期: 值}} 的映射，"
                              f"收到 {dated!r}")
        out[code] = {_as_date(start, f"{param.name}（统筹区 {code}）"):
                     region_value(param, code, value) for start, value in dated.items()}
    return out


def load_baseline(policy_dir: Path = POLICY_DIR, settings: bool = False
                  ) -> dict[str, Parameter]:
    """Read every ``*.yaml`` in ``policy_dir`` into parameters named ``file_stem.key`` (with
    ``settings``, those of :data:`SETTINGS_SECTIONS` too). The files are read again only when
    one of them changed (a command reads the parameters several times)."""
    files = sorted(p for p in policy_dir.glob("*.yaml")
                   if settings or p.stem not in SETTINGS_SECTIONS)
    if not files:
        raise PolicyError(f"政策参数目录 {policy_dir} 中没有 *.yaml 文件")
    stamps = tuple((str(p.resolve()), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    return dict(_read_parameters(stamps))


@functools.lru_cache(maxsize=8)
def _read_parameters(stamps: tuple[tuple[str, int, int], ...]) -> dict[str, Parameter]:
    """The parameters of the files named in ``stamps`` (path, modification time, size: a
    changed file is another key)."""
    params: dict[str, Parameter] = {}
    for path in (Path(s[0]) for s in stamps):
        content = read_yaml(path) or {}
        for key, spec in content.items():
            name = f"{path.stem}.{key}"
            missing = [f for f in ("description", "unit", "type", "reference", "values")
                       if f not in spec]
            if missing:
                raise PolicyError(f"{path.name}: 参数 {name} 缺少字段 {missing}")
            param = Parameter(
                name=name,
                description=spec["description"],
                unit=str(spec["unit"]),
                type=spec["type"],
                reference=spec["reference"],
                values={},
                choices=tuple(spec.get("choices", ())),
                min=spec.get("min"),
                max=spec.get("max"),
            )
            for start, value in spec["values"].items():
                param.values[_as_date(start, name)] = check_value(param, value)
            param.regional.update(_regional(param, spec.get("regions")))
            params[name] = param
    return params


def parameters_for_year(params: dict[str, Parameter], year: int, region: str | None = None
                        ) -> dict[str, Any]:
    """The value of every parameter in force on 1 January of ``year`` (in ``region``: with
    that region's own values)."""
    day = dt.date(year, 1, 1)
    return {name: p.value_on(day, region) for name, p in params.items()}


def regions_named(params: dict[str, Parameter]) -> dict[str, list[str]]:
    """Region code → the parameters the policy files give a value of its own."""
    named: dict[str, list[str]] = {}
    for name, param in params.items():
        for region in param.regional:
            named.setdefault(region, []).append(name)
    return named
