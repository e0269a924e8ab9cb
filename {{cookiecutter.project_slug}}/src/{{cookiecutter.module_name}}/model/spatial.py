"""Spatial effects of areal data: ICAR and BYM2, on the graph of ``data/graph.py``.

Neighbouring regions are alike. The intrinsic conditional autoregressive (ICAR) prior says so
with one term per pair of neighbours, ``-(phi_i - phi_j)^2 / 2``: the sparse pairwise-difference
form of Morris et al. (2019), fast on thousands of regions. It fixes no overall level, so each
connected part of the graph sums to zero (softly, as in their Stan code); a region without
neighbours (an island) has an effect of its own, standard normal. BYM2 (Riebler et al. 2016)
mixes that spatial effect with an unstructured one::

    effect = sigma * (sqrt(1 - rho) * theta + sqrt(rho / s) * phi)

where ``s`` (:meth:`AreaGraph.scaling_factors`) gives ``phi`` a variance of about 1, so that
``sigma`` is the effects' standard deviation and ``rho`` the share of it that is spatial, as in
brms's ``car(type = "bym2")`` (``sdcar`` and ``rhocar``) and INLA's ``bym2``.

Both are plain PyMC: a custom model calls :func:`car_effect` as it would draw ``pm.Normal``
group effects; a formula's ``car(region)`` term is built with it as the prior of Bambi's
``(1 | region)`` (``model/formulas.py``).
"""

from pathlib import Path

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor.tensor.type_other import NoneTypeT

from {{ cookiecutter.module_name }}.data.graph import AreaGraph, read_graph
from {{ cookiecutter.module_name }}.formula_syntax import CAR_TYPES

SUM_TO_ZERO_SD = 0.001  # per region of a component: the soft constraint of Morris et al. (2019)
RHO_PRIOR = {"alpha": 1.0, "beta": 1.0}  # BYM2's spatial share: Beta(1, 1), brms's default for rhocar


def icar(name: str, graph: AreaGraph, dims: str | None = None) -> pt.TensorVariable:
    """Unit-scale ICAR effects of the graph's regions: each connected component sums to zero,
    each island is standard normal. Prior draws (notebook 01) are exact: correlated normal draws
    with covariance the generalised inverse of ``Q`` within each component."""
    edges, n = graph.edges, graph.n_regions
    components = [np.flatnonzero(graph.component == c) for c in np.unique(graph.component)]
    connected = [members for members in components if len(members) > 1]
    islands = np.concatenate([members for members in components if len(members) == 1] or [np.zeros(0, int)])

    def logp(value, _mean):
        differences = value[..., edges[:, 0]] - value[..., edges[:, 1]]
        density = -0.5 * pt.sum(differences**2, axis=-1)
        for members in connected:
            total = pt.sum(value[..., members], axis=-1)
            density += pm.logp(pm.Normal.dist(0, SUM_TO_ZERO_SD * len(members)), total)
        if len(islands):
            density += pt.sum(pm.logp(pm.Normal.dist(0, 1), value[..., islands]), axis=-1)
        return density

    root = graph.covariance_root

    def draw(mean, size):  # a PyTensor graph, so prior draws compile like the rest of the model
        batched = size is not None and not isinstance(size.type, NoneTypeT)  # size: the batch shape, if any
        shape = pt.concatenate([size, mean.shape]) if batched else mean.shape
        return pm.Normal.dist(0.0, 1.0, size=shape) @ root.T

    return pm.CustomDist(name, np.zeros(n), dist=draw, logp=logp, signature="(n)->(n)", dims=dims)


def car_effect(name: str, graph: AreaGraph, sigma, rho=None, kind: str = "bym2",
               dims: str | None = None) -> pt.TensorVariable:
    """Spatial effects of the graph's regions, named ``name`` (a deterministic, in ``dims``).

    Parameters
    ----------
    name : str
    graph : AreaGraph
    sigma : tensor
        The effects' standard deviation (brms's ``sdcar``).
    rho : tensor, optional
        BYM2: the spatial share of the variance, in [0, 1] (brms's ``rhocar``).
    kind : {"icar", "bym2"}
        ``icar``: ``sigma * phi``; ``bym2``: the mixture above, with ``name + "_theta"`` the
        unstructured part and ``name + "_phi"`` the spatial one.
    """
    if kind not in CAR_TYPES:
        raise ValueError(f"car type {kind!r}: use one of {', '.join(CAR_TYPES)}")
    phi = icar(f"{name}_phi", graph, dims=dims)
    if kind == "icar":
        return pm.Deterministic(name, sigma * phi, dims=dims)
    theta = pm.Normal(f"{name}_theta", np.zeros(graph.n_regions), 1, dims=dims)
    scale = pt.as_tensor(graph.scaling_factors())
    return pm.Deterministic(name, sigma * (pt.sqrt(1 - rho) * theta + pt.sqrt(rho / scale) * phi), dims=dims)


def car_prior(default, group: str, kind: str, adjacency: Path):
    """The prior that makes Bambi's group term ``(1 | group)`` the spatial effect ``car(group)``.

    ``default`` is the term's prior as Bambi scaled it (or the config gave it): its standard
    deviation's prior is kept as ``sdcar``'s (``1|group_sigma``); BYM2 adds ``rhocar``
    (``1|group_rho``). Bambi calls the returned prior's ``dist`` with the term's dims, whose
    coordinates are the regions in its own order: the graph is read in that order.
    """
    import bambi as bmb  # here, not at the top: see formulas.bambi_prior

    def build(name, sigma, rho=None, dims=None):
        dim = dims[0]
        graph = read_graph(adjacency, list(pm.modelcontext(None).coords[dim]), group)
        return car_effect(name, graph, sigma, rho, kind, dims=dim)

    hyperpriors = {"sigma": default.args["sigma"]}
    if kind == "bym2":
        hyperpriors["rho"] = bmb.Prior("Beta", **RHO_PRIOR)
    return bmb.Prior("CAR", dist=build, noncentered=False, **hyperpriors)
