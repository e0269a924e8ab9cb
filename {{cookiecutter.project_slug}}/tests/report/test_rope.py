"""How sure each effect is (``report/rope.py``): the probability of direction, the region of
practical equivalence by its default rule or the config's, and Kruschke's decision."""

import numpy as np
import pytest
import xarray as xr

from {{ cookiecutter.module_name }}.report.rope import LOGIT_HALF_WIDTH, default_half_width, direction_and_rope


def test_the_default_rope_is_bayestestrs_rule():
    outcome = np.random.default_rng(0).normal(5, 2, 10_000)
    assert default_half_width("normal", outcome)[0] == pytest.approx(0.2, rel=0.02)
    assert default_half_width("lognormal", np.exp(outcome))[0] == pytest.approx(0.2, rel=0.02)  # sd of log y
    assert default_half_width("bernoulli", outcome > 5) == (pytest.approx(0.1814, abs=1e-4), "0.18 on the log-odds scale")
    assert LOGIT_HALF_WIDTH == pytest.approx(0.1 * np.pi / np.sqrt(3))
    assert default_half_width("poisson", outcome)[0] == 0.1


def test_direction_and_rope_of_each_slope_but_not_the_intercept():
    rng = np.random.default_rng(1)
    slopes = np.stack([rng.normal(1.0, 0.1, 4000), rng.normal(0.0, 0.01, 4000), rng.normal(0.1, 0.3, 4000)], axis=-1)
    fit_data = xr.DataTree.from_dict({"posterior": xr.Dataset(
        {"mu_alpha": (("chain", "draw"), rng.normal(3, 1, (2, 2000))),
         "mu_beta": (("chain", "draw", "predictor"), slopes.reshape(2, 2000, 3))},
        coords={"predictor": ["big", "none", "unclear"]})})
    table = direction_and_rope(fit_data, "g", "normal", np.array([0.0, 2.0]), 0.94)  # sd 1: half-width 0.1
    assert table.index.tolist() == ["big", "none", "unclear"]  # no (Intercept)
    assert table["rope"].tolist() == [pytest.approx(0.1)] * 3
    assert table.loc["big", "pd"] == 1.0 and table.loc["big", "in_rope"] == 0.0
    assert table["decision"].tolist() == ["practically non-zero", "practically zero", "undecided"]
    assert table.loc["unclear", "pd"] == pytest.approx(np.mean(slopes[:, 2] > 0), abs=1e-12)
    wide = direction_and_rope(fit_data, "g", "normal", np.array([0.0, 2.0]), 0.94, {"unclear": 2.0})
    assert wide.loc["unclear", "rope"] == 2.0 and wide.loc["unclear", "decision"] == "practically zero"
    assert wide.loc["big", "rope"] == pytest.approx(0.1)


def test_the_rule_and_the_config_s_own_widths_are_said():
    from {{ cookiecutter.module_name }}.report import words

    text = words.rope_words("0.1 sd of the outcome", 0.94, overridden=False)
    assert "(0.1 sd of the outcome)" in text and "94% interval" in text and "report.rope" not in text
    assert "the config's `report.rope` sets some terms'" in words.rope_words("0.1 sd of the outcome", 0.94, True)
