import pytest

from {{ cookiecutter.module_name }}.data.simulate import simulate_grouped
from {{ cookiecutter.module_name }}.model.parameterization import CENTERED_MIN_RATIO, INTERCEPTS_CENTERED_MIN_RATIO, choose, information_ratios

NORMAL = {"mu_alpha": 0.5, "tau_alpha": 0.6, "mu_beta": 0.0, "tau_beta": 0.0, "sigma": 1.0}


def test_information_ratio_estimates_n_tau2_over_sigma2():
    frame, _ = simulate_grouped("normal", NORMAL, n_groups=2000, min_size=50, max_size=50, seed=1)
    ratios = information_ratios(frame["group"].to_numpy(), frame["y"], "normal")
    # True ratio 50 * 0.36 / 1 = 18; 2000 groups estimate tau^2 to within a few percent.
    assert ratios.median() == pytest.approx(18, rel=0.1)


@pytest.mark.parametrize("family", ["normal", "bernoulli", "binomial", "poisson", "negative_binomial"])
def test_large_groups_are_centred_and_small_ones_not(family):
    # Counts carry information in events, not rows: a low rate keeps the small groups small.
    hyperparameters = {**NORMAL, "mu_alpha": -5.0 if family in ("poisson", "negative_binomial") else 0.0, "phi": 5.0}
    choices = {}
    for label, (n_groups, size) in {"small": (200, 4), "large": (200, 400)}.items():
        frame, _ = simulate_grouped(family, hyperparameters, n_groups=n_groups, min_size=size, max_size=size, seed=2)
        choices[label] = choose(frame["group"], frame["y"], family, "group", frame.get("trials"), frame.get("exposure"))
    assert not choices["small"].centered, choices["small"].reason
    assert choices["large"].centered, choices["large"].reason
    assert f"{CENTERED_MIN_RATIO:g}" in choices["large"].reason


def test_formula_models_decide_the_intercepts_on_their_own():
    """25 rows per group, tau 0.6, sigma 1: ratio about 9, between the intercepts' threshold and
    the factor's. Formula models draw the intercepts around the population value and keep the
    slopes non-centred; custom models (one switch for both) stay non-centred."""
    frame, _ = simulate_grouped("normal", NORMAL, n_groups=200, min_size=25, max_size=25, seed=4)
    ratio = information_ratios(frame["group"], frame["y"], "normal").median()
    assert INTERCEPTS_CENTERED_MIN_RATIO < ratio < CENTERED_MIN_RATIO
    formula = choose(frame["group"], frame["y"], "normal", "group", separate_intercepts=True)
    assert not formula.centered and formula.intercepts_centered
    assert formula.label == "non-centred, intercepts centred" and "population intercept" in formula.reason
    assert formula.to_dict()["label"] == formula.label
    custom = choose(frame["group"], frame["y"], "normal", "group")
    assert not custom.centered and not custom.intercepts_centered and custom.label == "non-centred"
    forced = choose(frame["group"], frame["y"], "normal", "group", forced="non_centered", separate_intercepts=True)
    assert not forced.intercepts_centered  # the config's word, for the slopes and the intercepts
    small, _ = simulate_grouped("normal", NORMAL, n_groups=200, min_size=3, max_size=3, seed=4)
    assert not choose(small["group"], small["y"], "normal", "group", separate_intercepts=True).intercepts_centered


def test_forced_setting_is_used_as_given():
    frame, _ = simulate_grouped("normal", NORMAL, n_groups=20, min_size=3, max_size=5, seed=3)
    choice = choose(frame["group"], frame["y"], "normal", "group", forced="centered")
    assert choice.centered and choice.reason == "set to centered in the config"
    assert not choose(frame["group"], frame["y"], "normal", "group", forced="non_centered").centered


def test_choice_is_recorded_in_the_fit(example_fit, config):
    import json

    record = json.loads(example_fit.attrs["model"])
    assert record["name"] == config.primary_model and record["kind"] == "custom"
    [choice] = record["parameterization"]
    assert choice["factor"] == "school"
    assert "median information ratio" in choice["reason"]
    assert ("z_alpha" in example_fit.posterior) is not choice["centered"]
