import numpy as np
import pandas as pd

from {{ cookiecutter.module_name }}.simulate import TRUE_HYPERPARAMETERS, load_truth, simulate_schools, write_example


def test_simulation_has_the_documented_design():
    frame, truth = simulate_schools()
    sizes = frame.groupby("school").size()
    assert len(sizes) == 40
    assert (sizes < 10).any(), "some schools must have fewer than 10 students"
    assert list(frame.columns) == ["school", "student", "ses", "score"]
    assert abs(frame["ses"].mean()) < 1e-6
    assert abs(frame["ses"].std() - 1) < 1e-5
    assert truth["hyperparameters"] == TRUE_HYPERPARAMETERS
    assert set(truth["alpha"]) == set(sizes.index)


def test_simulation_is_reproducible_and_seed_dependent():
    first, _ = simulate_schools(seed=1)
    again, _ = simulate_schools(seed=1)
    other, _ = simulate_schools(seed=2)
    pd.testing.assert_frame_equal(first, again)
    assert not first["score"].equals(other["score"])


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
