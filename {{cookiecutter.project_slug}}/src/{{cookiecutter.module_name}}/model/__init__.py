"""Models: families' likelihoods, priors scaled to the data, formulas, parameterisation, prediction."""
