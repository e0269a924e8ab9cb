"""Running the workflow: the pipeline, notebook kernels, fits reused or made, run locks, sweeps."""
