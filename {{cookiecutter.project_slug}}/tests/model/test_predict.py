import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.module_name }}.fit.sampling import fit
from {{ cookiecutter.module_name }}.model.build import build_model
from {{ cookiecutter.module_name }}.model.predict import inverse_link, predict

SAMPLE_DIMS = ("chain", "draw")


def rows_at_average_predictors(data, groups):
    """One row per group with every predictor at its mean."""
    values = {column: data.scaling[column][0] for column in data.predictor_names}
    return pd.DataFrame([{data.group_dim: group, **values} for group in groups])


def test_known_groups_keep_their_effects_and_new_groups_come_from_the_population(config, example_data, example_fit):
    known = example_data.groups[0]
    new = rows_at_average_predictors(example_data, [known, "a school never seen"])
    predicted = predict(config, config.primary_model, example_fit, example_data, new, seed=1)
    assert predicted.dims == ("sample", "row") and predicted.sizes["row"] == 2

    family = config.family_of(config.primary_model)
    alpha = example_fit.posterior["alpha"].sel({example_data.group_dim: known})
    expected_known = inverse_link(alpha.values, family).mean()
    assert predicted[:, 0].mean() == pytest.approx(expected_known, rel=1e-6)

    # The unseen group: population mean, spread by the between-group sd.
    population = inverse_link(
        example_fit.posterior["mu_alpha"].values[..., None]
        + example_fit.posterior["tau_alpha"].values[..., None] * np.random.default_rng(2).standard_normal((1, 1, 4000)),
        family,
    )
    n = predicted.sizes["sample"]
    assert predicted[:, 1].mean() == pytest.approx(population.mean(), abs=4 * population.std() / np.sqrt(n))
    assert float(predicted[:, 1].std()) == pytest.approx(population.std(), rel=0.15)
    # A school the model has seen is known better than one it has not.
    assert predicted[:, 0].std() < predicted[:, 1].std()


def test_formula_model_predicts_new_groups_too(config, example_data):
    name = next(spec.name for spec in config.models if spec.formula and "|" in spec.formula)
    settings = config.sampler_settings(fast=True)
    fitted = fit(build_model(config, name, example_data), settings)
    new = rows_at_average_predictors(example_data, [example_data.groups[0], "a school never seen"])
    if config.data.exposure:
        new[config.data.exposure] = 1.0
    if config.data.trials:
        new[config.data.trials] = 1
    predicted = predict(config, name, fitted, example_data, new)
    assert predicted.sizes == {"sample": settings.chains * settings.draws, "row": 2}
    assert np.isfinite(predicted.values).all()
    assert predicted[:, 0].std() < predicted[:, 1].std()


@pytest.mark.slow
def test_ordinal_predictions_are_the_mean_category_custom_and_formula(config, tmp_path):
    """A cumulative model predicts each row's mean category: the custom model from its
    cut-points, the formula from Bambi's category probabilities; both agree with the shares
    of the simulated categories of a known and of a new group."""
    from {{ cookiecutter.module_name }}.config import DataConfig, ModelSpec
    from {{ cookiecutter.module_name }}.data.grouped import prepare
    from {{ cookiecutter.module_name }}.data.simulate import simulate_grouped
    truth = {"mu_alpha": 0.5, "tau_alpha": 0.3, "mu_beta": 0.5, "tau_beta": 0.0, "cutpoint_gaps": 1.5}
    frame, _ = simulate_grouped("cumulative", truth, n_groups=20, min_size=40, max_size=60, seed=2)
    case = config.model_copy(update={
        "data": DataConfig(path="ordinal.csv", outcome="y", group="group", predictors=["x"]), "family": "cumulative",
        "models": [ModelSpec(name="custom", custom="varying_slopes"), ModelSpec(name="formula", formula="y ~ x + (1 | group)")],
    })
    data = prepare(frame, case)
    settings = case.sampler_settings(fast=True).model_copy(update={"seed": 3})
    new = pd.DataFrame({"group": [data.groups[0], "unseen"], "x": [0.0, 0.0]})
    for name in ("custom", "formula"):
        predicted = predict(case, name, fit(build_model(case, name, data), settings), data, new, seed=1)
        assert predicted.dims == ("sample", "row") and float(predicted.min()) >= 0 and float(predicted.max()) <= 2
        # An unseen group at x = 0: the population's mean category, from the cut-points 0 and 1.5 less 0.5
        rng = np.random.default_rng(0)
        latent = 0.5 + rng.normal(0, 0.3, 200_000) + rng.logistic(size=200_000)
        expected = float(((latent > 0).astype(int) + (latent > 1.5)).mean())
        assert float(predicted[:, 1].mean()) == pytest.approx(expected, abs=0.15), name
