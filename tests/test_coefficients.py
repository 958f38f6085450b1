"""Hospital coefficients and the outlier reference (docs/rules.md), by hand.

History 2019 (weight 7): J18.0: H1 (level 3) 1000 × 2, H2 (level 2) 600 × 2, H3 (level 1)
800 × 2 (mean 800); K35.3: H1 1200 × 2, H2 1000 × 2, H3 800 × 2 (mean 1000).
cost_ratio (Σ cost ÷ Σ group means over a level's cases):
  level 3 (1000·2 + 1200·2) / (800·2 + 1000·2) = 4400 / 3600 = 1.2222
  level 2 (600·2 + 1000·2) / 3600 = 0.8889; level 1 (800·2 + 800·2) / 3600 = 0.8889
per_group: K35.3 1200/1000 = 1.2, 1000/1000 = 1.0, 800/1000 = 0.8 (monotone: used);
  J18.0 level 1 (800) > level 2 (600): inverted → the fixed values 1.00 / 0.85 / 0.70.
bonus file: H1 + 0.05.
Outlier reference prior_year_level_mean: a 2020 K35.3 case at H3 costing 1000 against the
  2019 level-1 mean 800 → ratio 1.25.
"""

from __future__ import annotations

import pytest

from dip_sim.policy import Scenario
from tests.inputs import case_row, settlement_row, simulated_city, write_inputs

HISTORY = [("J18.000", "H1", 1000), ("J18.000", "H2", 600), ("J18.000", "H3", 800),
           ("K35.300", "H1", 1200), ("K35.300", "H2", 1000), ("K35.300", "H3", 800)] * 2
YEAR_2020 = [("k1", "K35.300", "H1"), ("k2", "K35.300", "H2"), ("k3", "K35.300", "H3"),
             ("j1", "J18.000", "H1")]


@pytest.fixture(scope="module")
def coef(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("coef")
    rows = [(f"h{i}", h, "2019-06-01", dx, cost) for i, (dx, h, cost) in enumerate(HISTORY)]
    rows += [(cid, h, "2020-03-01", dx, 1000) for cid, dx, h in YEAR_2020]
    cases = [case_row(cid, h, date, dx) for cid, h, date, dx, _ in rows]
    settlements = [settlement_row(cid, date, cost, cost * 0.8) for cid, _, date, _, cost in rows]
    bonus = tmp_path / "bonus.csv"
    bonus.write_text("hospital_id,bonus,reason\nH1,0.05,重点专科\n", encoding="utf-8")
    two = {"catalog.core_min_cases": 2}
    with simulated_city(tmp_path, write_inputs(tmp_path / "in", cases, settlements), [
        Scenario("fixed", changes=two),
        Scenario("cost_ratio", changes={**two, "coefficients.method": "cost_ratio"}),
        Scenario("per_group", changes={**two, "coefficients.method": "per_group",
                                       "coefficients.per_group_min_cases": 2}),
        Scenario("bonus", changes={**two, "coefficients.bonus_file": str(bonus)}),
        Scenario("prior", changes={**two, "outliers.reference": "prior_year_level_mean"}),
    ]) as con:
        yield con


def _coef(con, scenario):
    return dict(con.execute("SELECT case_id, level_coefficient FROM case_scores "
                            "WHERE scenario = ?", [scenario]).fetchall())


def test_data_driven_values_are_shown_while_fixed_ones_apply(coef):
    rows = {r[0]: r[1:] for r in coef.execute(
        "SELECT level, fixed_coefficient, cost_ratio_coefficient, coefficient_in_force "
        "FROM level_coefficients"
        " WHERE scenario = 'fixed'").fetchall()}
    assert rows[3] == (1.0, pytest.approx(4400 / 3600), 1.0)
    assert rows[2] == (0.85, pytest.approx(3200 / 3600), 0.85)
    assert rows[1] == (0.70, pytest.approx(3200 / 3600), 0.70)
    assert _coef(coef, "fixed") == {"k1": 1.0, "k2": 0.85, "k3": 0.70, "j1": 1.0}


def test_cost_ratio_coefficients(coef):
    got = _coef(coef, "cost_ratio")
    assert got["k1"] == pytest.approx(4400 / 3600) and got["k3"] == pytest.approx(3200 / 3600)


def test_per_group_coefficients_where_not_inverted(coef):
    got = _coef(coef, "per_group")
    assert got["k1"] == pytest.approx(1.2) and got["k2"] == pytest.approx(1.0)
    assert got["k3"] == pytest.approx(0.8)
    assert got["j1"] == 1.0  # J18.0 is inverted: the fixed value


def test_bonus_is_added(coef):
    assert _coef(coef, "bonus") == {"k1": pytest.approx(1.05), "k2": 0.85, "k3": 0.70,
                                    "j1": pytest.approx(1.05)}


def test_outlier_reference_prior_year_level_mean(coef):
    ratios = dict(coef.execute("SELECT case_id, cost_ratio FROM case_scores "
                               "WHERE scenario = 'prior'").fetchall())
    assert ratios["k3"] == pytest.approx(1000 / 800)
    assert ratios["k2"] == pytest.approx(1000 / 1000)
