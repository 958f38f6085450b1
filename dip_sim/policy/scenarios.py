"""Scenarios: a name, a description and ``changes`` overlaid on their base's parameters.

A scenario file is YAML::

    name: growth_8pct
    description: 增长率 8%
    base: baseline        # optional: another scenario's name; its parameters are overlaid
    changes:
      budget.growth_rate: 0.08
    regions:              # optional: values for one pooling region (统筹区) only
      "320200":
        budget.growth_rate: 0.10

A scenario's parameters are its base's (the baseline's unless ``base`` names another
scenario) with its ``changes``, and in a region named under ``regions`` that region's changes
on top; its run reuses the base's results for the stages those changes do not reach
(:mod:`dip_sim.pipeline.incremental`), region by region.

An unknown parameter name or a wrongly typed value is refused with an error naming it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dip_sim.policy.parameters import (
    Parameter,
    PolicyError,
    parameters_for_year,
    region_value,
)

BASELINE = "baseline"
_NAME = re.compile(r"^[A-Za-z0-9_\-\u4e00-\u9fff]+$")


@dataclass(frozen=True)
class Scenario:
    """A named set of parameter changes; the baseline is the scenario with no changes."""

    name: str
    description: str = ""
    changes: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    base: str = BASELINE
    parent: Scenario | None = None  # the base scenario (None: the baseline)
    # region code → the changes of that region only (over ``changes``)
    region_changes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def regions_named(self) -> dict[str, list[str]]:
        """Region code → the parameters this scenario (or its bases) sets for it alone."""
        named = self.parent.regions_named() if self.parent is not None else {}
        for region, changes in self.region_changes.items():
            named.setdefault(region, []).extend(changes)
        return named


def load_scenario(path: Path, params: dict[str, Parameter]) -> Scenario:
    """Read and validate a scenario file against the baseline parameters."""
    try:
        content = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(f"情景文件不存在: {path}") from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"情景文件 {path} 不是有效的 YAML: {exc}") from None
    if not isinstance(content, dict):
        raise PolicyError(f"情景文件 {path} 应为包含 name/description/changes 的映射")
    unknown_keys = set(content) - {"name", "description", "changes", "base", "regions"}
    if unknown_keys:
        raise PolicyError(f"情景文件 {path} 含未知字段 {sorted(unknown_keys)}")
    name = content.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise PolicyError(f"情景文件 {path}: name 应为字母、数字、下划线或中文，收到 {name!r}")
    if name == BASELINE:
        raise PolicyError(f"情景文件 {path}: 名称 {BASELINE!r} 保留给基线")
    base = content.get("base") or BASELINE
    if not isinstance(base, str) or not _NAME.match(base) or base == name:
        raise PolicyError(f"情景文件 {path}: base 应为另一个情景的名称（或 {BASELINE}），收到 {base!r}")
    changes = content.get("changes") or {}
    if not isinstance(changes, dict):
        raise PolicyError(f"情景文件 {path}: changes 应为 参数名 → 值 的映射")
    checked = {}
    for key, value in changes.items():
        if key not in params:
            raise PolicyError(f"情景 {name}: 未知参数 {key!r}（可用参数: {', '.join(sorted(params))}）")
        checked[key] = params[key].check(value)
    regional = _region_changes(name, path, content.get("regions"), params)
    return Scenario(name, str(content.get("description") or ""), checked, str(path), base,
                    region_changes=regional)


def _region_changes(name: str, path: Path, spec: Any, params: dict[str, Parameter]
                    ) -> dict[str, dict[str, Any]]:
    """The ``regions`` field of a scenario file, checked: region code → its changes."""
    if spec is None:
        return {}
    if not isinstance(spec, dict):
        raise PolicyError(f"情景文件 {path}: regions 应为 统筹区编码 → {{参数名: 值}} 的映射")
    out: dict[str, dict[str, Any]] = {}
    for region, changes in spec.items():
        code = str(region).strip()
        if not code:
            raise PolicyError(f"情景文件 {path}: regions 中有空的统筹区编码")
        if not isinstance(changes, dict) or not changes:
            raise PolicyError(f"情景 {name} 统筹区 {code}: 应为 参数名 → 值 的映射，收到 {changes!r}")
        for key in changes:
            if key not in params:
                raise PolicyError(f"情景 {name} 统筹区 {code}: 未知参数 {key!r}")
        out[code] = {k: region_value(params[k], code, v) for k, v in changes.items()}
    return out


def resolve(params: dict[str, Parameter], scenario: Scenario, year: int,
            region: str | None = None) -> dict[str, Any]:
    """The parameter values a run of ``scenario`` uses for simulation year ``year`` (in
    ``region``): its base's (through :attr:`Scenario.parent`), with its changes and then its
    changes for the region."""
    if scenario.base != BASELINE and scenario.parent is None:
        raise PolicyError(f"情景 {scenario.name} 的基础情景 {scenario.base} 未载入")
    values = (resolve(params, scenario.parent, year, region) if scenario.parent is not None
              else parameters_for_year(params, year, region))
    for key, value in scenario.changes.items():
        if key not in params:
            raise PolicyError(f"情景 {scenario.name}: 未知参数 {key!r}")
        values[key] = params[key].check(value)
    for key, value in scenario.region_changes.get(region or "", {}).items():
        values[key] = region_value(params[key], region, value)
    return values


def params_fingerprint(values: dict[str, Any]) -> tuple[str, str]:
    """The resolved values as canonical JSON and its SHA-256, recorded with every run."""
    text = json.dumps(values, sort_keys=True, ensure_ascii=False, default=str)
    return text, hashlib.sha256(text.encode("utf-8")).hexdigest()
