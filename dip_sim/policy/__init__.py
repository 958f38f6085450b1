"""Policy parameters: the baseline in ``data/policy/`` and scenario overlays on it."""

from dip_sim.policy.parameters import (
    Parameter,
    PolicyError,
    load_baseline,
    parameters_for_year,
)
from dip_sim.policy.scenarios import BASELINE, Scenario, load_scenario, resolve

__all__ = [
    "BASELINE",
    "Parameter",
    "PolicyError",
    "Scenario",
    "load_baseline",
    "load_scenario",
    "parameters_for_year",
    "resolve",
]
