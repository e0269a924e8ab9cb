"""Fitting: sampling with NUTS, the compiled-model cache, pointwise values, progress, the fit store."""
