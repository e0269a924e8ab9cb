"""Evaluation, one module per question: convergence, predictive checks, LOO and comparison, leave-groups-out, SBC."""
