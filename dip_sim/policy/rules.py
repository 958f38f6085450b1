"""Rules between parameters: combinations a run refuses before any stage runs.

Each rule is declared here as data: when ``when`` holds, ``require`` must hold too, or the run
stops with ``message`` (Chinese, naming the parameters). Conditions are the expressions of
:mod:`dip_sim.policy.expressions`; ``run.n_history_years`` is the number of history years.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dip_sim.policy.expressions import evaluate, names
from dip_sim.policy.parameters import PolicyError


@dataclass(frozen=True)
class Rule:
    """``require`` must hold whenever ``when`` does."""

    when: str
    require: str
    message: str

    def parameters(self) -> set[str]:
        """The parameters the rule reads (run facts left out)."""
        return {n for n in names(self.when) | names(self.require) if not n.startswith("run.")}


RULES: tuple[Rule, ...] = (
    Rule("True", "len(catalog.history_weights) == run.n_history_years",
         "参数 catalog.history_weights 的权重个数应等于历史年度数"),
    Rule("budget.method == 'fixed'", "budget.fixed_fund_yuan is not None",
         "参数 budget.method = fixed 时必须给出 budget.fixed_fund_yuan"),
    Rule("budget.method in ('items', 'proportion')", "budget.inpatient_fund_yuan is not None",
         "参数 budget.method = items 或 proportion 时必须给出 budget.inpatient_fund_yuan"
         "（当年住院统筹基金）"),
    # the elastic point value's base points are counted per hospital, not per insurance pool
    Rule("budget.split_by_insurance", "point_value.mode != 'elastic'",
         "参数 budget.split_by_insurance 暂不能与 point_value.mode = elastic 同用"
         "（弹性点值的基础分值按医院而非险种计）"),
    Rule("settlement.assessment_source == 'scheme'", "settlement.assessment_file is None",
         "参数 settlement.assessment_source = scheme 时考核结果由考核方案计算，"
         "不能同时给出 settlement.assessment_file"),
    Rule("True", "point_value.trim_low < point_value.trim_high",
         "参数 point_value.trim_low 应小于 point_value.trim_high"),
    Rule("True", "indicator.trend_floor <= indicator.trend_cap",
         "参数 indicator.trend_floor（趋势系数下限）不应大于 indicator.trend_cap（上限）"),
)


def check_rules(values: Mapping[str, Any], run: Mapping[str, Any]) -> None:
    """Refuse the first rule the values break (``run``: facts of the run, ``run.*``)."""
    scope = {**values, **run}
    for rule in RULES:
        if evaluate(rule.when, scope) and not evaluate(rule.require, scope):
            detail = ""
            if "history_weights" in rule.require:
                detail = (f"（{len(values['catalog.history_weights'])} 个权重，"
                          f"{run['run.n_history_years']} 个历史年度）")
            raise PolicyError(rule.message + detail)
