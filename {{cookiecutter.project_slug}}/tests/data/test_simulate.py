import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.module_name }}.data.simulate import (
    EXAMPLES,
    OUTCOME_TYPE,
    TRUE_HYPERPARAMETERS,
    load_truth,
    simulate_grouped,
    simulate_schools,
    write_example,
)

EXAMPLE = EXAMPLES[OUTCOME_TYPE]


def test_simulation_has_the_documented_design():
    frame, truth = simulate_schools()
    sizes = frame.groupby("school").size()
    assert len(sizes) == 40
    assert (sizes < 10).any(), "some schools must have fewer than 10 students"
    extra = [column for column in (EXAMPLE.trials, EXAMPLE.exposure) if column]
    assert list(frame.columns) == ["school", "student", "ses", *extra, EXAMPLE.outcome]
    assert truth["family"] == EXAMPLE.family
    assert abs(frame["ses"].mean()) < 1e-6
    assert abs(frame["ses"].std() - 1) < 1e-5
    assert truth["hyperparameters"] == TRUE_HYPERPARAMETERS
    assert set(truth["alpha"]) == set(sizes.index)


def test_simulation_is_reproducible_and_seed_dependent():
    first, _ = simulate_schools(seed=1)
    again, _ = simulate_schools(seed=1)
    other, _ = simulate_schools(seed=2)
    pd.testing.assert_frame_equal(first, again)
    assert not first[EXAMPLE.outcome].equals(other[EXAMPLE.outcome])


def test_group_effects_follow_the_hyperparameters():
    _, truth = simulate_schools(n_schools=4000, seed=3)
    alpha = np.array(list(truth["alpha"].values()))
    beta = np.array(list(truth["beta"].values()))
    h = truth["hyperparameters"]
    # Standard errors of the mean are about 0.01 and 0.003 with 4000 groups.
    assert abs(alpha.mean() - h["mu_alpha"]) < 0.05
    assert abs(alpha.std() - h["tau_alpha"]) < 0.05
    assert abs(beta.mean() - h["mu_beta"]) < 0.02
    assert abs(beta.std() - h["tau_beta"]) < 0.02


def test_shipped_example_matches_its_generator(config, tmp_path):
    regenerated = write_example(tmp_path / "schools.csv", tmp_path / "truth.json")
    shipped = pd.read_csv(config.data_path)
    pd.testing.assert_frame_equal(shipped, pd.read_csv(tmp_path / "schools.csv"))
    assert len(regenerated) == len(shipped)
    assert load_truth(config.resolve(config.data.true_parameters)) == load_truth(tmp_path / "truth.json")


@pytest.mark.parametrize("outcome_type", list(EXAMPLES))
def test_every_example_has_outcomes_of_its_type(outcome_type):
    example = EXAMPLES[outcome_type]
    frame, _ = simulate_schools(outcome_type)
    y = frame[example.outcome]
    if example.family == "bernoulli":
        assert set(y.unique()) == {0, 1}
    if example.family in ("poisson", "binomial", "zero_inflated_poisson"):
        assert (y >= 0).all() and (y == y.round()).all()
    if example.family == "zero_inflated_poisson":  # more zeros than a Poisson of the same mean gives
        assert (y == 0).mean() > np.mean(np.exp(-y.mean() * frame[example.exposure] / frame[example.exposure].mean()))
    if example.event:  # some students leave within the follow-up, some are still there at its end
        assert 0.2 < frame[example.event].mean() < 0.8 and frame[example.outcome].max() == example.censor_at
        assert (frame.loc[frame[example.event] == 0, example.outcome] == example.censor_at).all()
    if example.family == "cumulative":
        assert set(y.unique()) == {0, 1, 2}
    if example.trials:
        assert (frame[example.trials] >= y).all()
    if example.exposure:
        assert (frame[example.exposure] > 0).all()


def test_negative_binomial_is_overdispersed_relative_to_poisson():
    h = {"mu_alpha": 1.0, "tau_alpha": 0.0, "mu_beta": 0.0, "tau_beta": 0.0, "phi": 2.0}
    frame, _ = simulate_grouped("negative_binomial", h, n_groups=50, min_size=200, max_size=200, seed=1)
    rate = frame["y"] / frame["exposure"]
    counts = frame.loc[frame["exposure"].between(90, 110), "y"]
    # Variance mu + mu^2 / phi is far above the Poisson mean when mu ~ e * 100.
    assert counts.var() > 5 * counts.mean()
    assert rate.mean() == pytest.approx(np.e, rel=0.1)
