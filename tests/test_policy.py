"""Policy parameters and scenario files: metadata, types, overlays, refusals."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dip_sim.paths import SCENARIO_DIR
from dip_sim.policy import BASELINE, PolicyError, Scenario, load_baseline, load_scenario, resolve

PUBLIC_NAMES = {
    "catalog.history_weights": [1.0, 2.0, 7.0],
    "catalog.core_min_cases": 15,
    "catalog.procedure_key": "all",
    "points.scale": 1000.0,
    "coefficients.hospital_level": {1: 0.70, 2: 0.85, 3: 1.00},
    "outliers.low_ratio": 0.5,
    "outliers.high_ratio": 2.0,
    "outliers.extreme_ratio": 5.0,
    "budget.method": "growth",
    "budget.growth_rate": 0.05,
    "budget.fixed_fund_yuan": None,
    "budget.reserve_rate": 0.0,
    "settlement.withhold_rate": 0.05,
}


def test_baseline_values_are_the_rules_defaults():
    values = resolve(load_baseline(), Scenario(BASELINE), 2020)
    for name, expected in PUBLIC_NAMES.items():
        assert values[name] == expected, name


def test_every_parameter_has_metadata():
    for name, p in load_baseline().items():
        assert p.description and p.unit and p.reference, name


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_unknown_parameter_is_refused_by_name(tmp_path):
    path = _write(tmp_path, "name: x\nchanges:\n  budget.growth_rat: 0.1\n")
    with pytest.raises(PolicyError, match="budget.growth_rat"):
        load_scenario(path, load_baseline())


@pytest.mark.parametrize("change, name", [
    ("budget.growth_rate: high", "budget.growth_rate"),
    ("catalog.core_min_cases: 2.5", "catalog.core_min_cases"),
    ("catalog.procedure_key: some", "catalog.procedure_key"),
    ("coefficients.hospital_level: {4: 1.0}", "coefficients.hospital_level"),
    ("catalog.history_weights: [1, x]", "catalog.history_weights"),
    ("settlement.withhold_rate: 1.5", "settlement.withhold_rate"),
    ("supervision.readmit_days: [15, x]", "supervision.readmit_days"),
    ("supervision.readmit_days: [0]", "supervision.readmit_days"),  # below its minimum of 1
    ("assessment.coefficient_bands: [[60, 0.97], [90, 1.0]]", "assessment.coefficient_bands"),
    ("assessment.coefficient_bands: [[90, 1.0], [0]]", "assessment.coefficient_bands"),
    ("assessment.withhold_release_bands: [[90, 1.2], [0, 0.4]]",
     "assessment.withhold_release_bands"),  # a release above its maximum of 1
])
def test_wrongly_typed_value_is_refused_by_name(tmp_path, change, name):
    path = _write(tmp_path, f"name: x\nchanges:\n  {change}\n")
    with pytest.raises(PolicyError, match=name.replace(".", r"\.")):
        load_scenario(path, load_baseline())


def test_scenario_overlays_only_its_changes(tmp_path):
    params = load_baseline()
    path = _write(tmp_path, "name: g8\ndescription: d\nchanges:\n  budget.growth_rate: 0.08\n")
    scenario = load_scenario(path, params)
    values = resolve(params, scenario, 2020)
    base = resolve(params, Scenario(BASELINE), 2020)
    assert values["budget.growth_rate"] == 0.08
    assert {k: v for k, v in values.items() if k != "budget.growth_rate"} == \
        {k: v for k, v in base.items() if k != "budget.growth_rate"}


def test_shipped_scenarios_load():
    files = sorted(SCENARIO_DIR.glob("*.yaml"))
    assert len(files) >= 2
    for f in files:
        assert load_scenario(f, load_baseline()).changes


def test_value_before_any_start_date_is_an_error():
    with pytest.raises(PolicyError, match="尚未生效"):
        resolve(load_baseline(), Scenario(BASELINE), 2010)


def test_the_access_settings_are_read_by_their_names():
    import dataclasses

    from dip_sim.access import SECTION, AccessSettings, access_settings

    declared = {n.split(".", 1)[1] for n in load_baseline() if n.startswith(f"{SECTION}.")}
    assert declared == {f.name for f in dataclasses.fields(AccessSettings)}
    settings = access_settings()
    assert settings.suppression_min_hospitals == 3
    assert settings.api_batch_max == 10_000


def test_a_changed_policy_file_is_read_again(tmp_path):
    """The parameters are parsed once per set of files; a file written since is read anew."""
    from dip_sim.paths import POLICY_DIR

    for path in POLICY_DIR.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    assert load_baseline(tmp_path)["budget.growth_rate"].values == \
        load_baseline(POLICY_DIR)["budget.growth_rate"].values
    budget = tmp_path / "budget.yaml"
    text = budget.read_text(encoding="utf-8")
    start = text.index("growth_rate:")
    budget.write_text(text[:start] + text[start:].replace("0.05", "0.075", 1), encoding="utf-8")
    assert list(load_baseline(tmp_path)["budget.growth_rate"].values.values()) == [0.075]
    # each call hands out its own dict: changing one leaves the next alone
    params = load_baseline(tmp_path)
    params.pop("budget.growth_rate")
    assert "budget.growth_rate" in load_baseline(tmp_path)
