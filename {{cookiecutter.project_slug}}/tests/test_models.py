import numpy as np
import pytest

from {{ cookiecutter.module_name }}.models import MODELS, build_model

FREE_VARIABLES = {
    "varying_slopes": {"mu_alpha", "tau_alpha", "z_alpha", "mu_beta", "tau_beta", "z_beta", "sigma"},
    "complete_pooling": {"alpha", "beta", "sigma"},
    "no_pooling": {"alpha", "beta", "sigma"},
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_has_named_coords_and_finite_logp(name, config, example_data):
    model = build_model(name, example_data, config.priors)
    assert {variable.name for variable in model.free_RVs} == FREE_VARIABLES[name]
    assert model.coords["school"] == tuple(example_data.groups)
    assert model.named_vars_to_dims["score"] == ("obs",)
    assert np.isfinite(model.compile_logp()(model.initial_point()))


def test_varying_slopes_shapes_follow_groups_and_predictors(config, example_data):
    model = build_model("varying_slopes", example_data, config.priors)
    n_groups, n_predictors = len(example_data.groups), len(example_data.predictor_names)
    assert model.named_vars_to_dims["alpha"] == ("school",)
    assert model.named_vars_to_dims["beta"] == ("school", "predictor")
    shapes = {name: value.shape for name, value in model.initial_point().items()}
    assert shapes["z_alpha"] == (n_groups,)
    assert shapes["z_beta"] == (n_groups, n_predictors)


def test_priors_come_from_the_config(config, example_data):
    priors = config.priors.model_copy(update={"intercept": config.priors.intercept.model_copy(update={"sigma": 7.5})})
    model = build_model("complete_pooling", example_data, priors)
    sigma = model["alpha"].owner.inputs[-1].eval()
    assert float(sigma) == 7.5
