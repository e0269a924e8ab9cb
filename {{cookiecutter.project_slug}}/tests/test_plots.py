"""The figures' own computations, against the libraries they stand in for."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import seaborn as sns

from {{ cookiecutter.module_name }}.plots import density_lines


@pytest.mark.parametrize("clip", [(-np.inf, np.inf), (0.0, 1.0)])
def test_density_lines_are_seaborns_kernel_densities(clip):
    """Each line is seaborn's ``kdeplot`` of its row (Scott's bandwidth), on one shared grid;
    clipped where asked; a row of one repeated value has no density and is skipped."""
    rng = np.random.default_rng(1)
    samples = rng.beta(2, 5, size=(3, 400))
    fig, (ours, theirs) = plt.subplots(1, 2)
    density_lines(np.vstack([samples, np.full(400, 0.5)]), ours, clip=clip, label="replicated")
    for row in samples:
        sns.kdeplot(row, ax=theirs, clip=clip)
    assert len(ours.lines) == len(theirs.lines) == 3
    assert [line.get_label() for line in ours.lines][0] == "replicated"
    for line, reference in zip(ours.lines, theirs.lines):
        x, y = line.get_xydata().T
        ref_x, ref_y = reference.get_xydata().T
        inside = (x >= ref_x.min()) & (x <= ref_x.max())
        assert inside.sum() > 100
        assert np.allclose(y[inside], np.interp(x[inside], ref_x, ref_y), rtol=1e-3, atol=1e-3 * ref_y.max())
        assert clip[0] <= x.min() and x.max() <= clip[1]
    plt.close(fig)
