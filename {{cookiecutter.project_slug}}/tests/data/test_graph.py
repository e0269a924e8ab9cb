"""The graph of neighbouring regions (``data.adjacency``): both layouts, every refusal, and
the BYM2 scaling factor against its closed form."""

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.module_name }}.data.graph import read_graph
from {{ cookiecutter.module_name }}.data.validation import DataError


def ring(n: int) -> pd.DataFrame:
    names = [f"r{i}" for i in range(n)]
    return pd.DataFrame({"region_a": names, "region_b": names[1:] + names[:1]})


def write(tmp_path, frame: pd.DataFrame, name: str = "graph.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def neighbour_lists(edges: pd.DataFrame, regions: list[str]) -> pd.DataFrame:
    """The same graph in the other layout: each region with its neighbours, space-separated."""
    pairs = [*zip(edges.iloc[:, 0], edges.iloc[:, 1]), *zip(edges.iloc[:, 1], edges.iloc[:, 0])]
    return pd.DataFrame({"region": regions,
                         "neighbours": [" ".join(b for a, b in pairs if a == region) for region in regions]})


def test_an_edge_list_and_neighbour_lists_give_the_same_graph(tmp_path):
    regions = ["a", "b", "c", "d", "e"]
    edges = pd.DataFrame({"from": ["a", "b", "c", "b"], "to": ["b", "c", "a", "a"]})  # a-b listed both ways
    lists = pd.DataFrame({"region": regions, "neighbours": ["b c", "a;c", "a, b", "", ""]})
    from_edges = read_graph(write(tmp_path, edges, "edges.csv"), regions[:3], "region")
    from_lists = read_graph(write(tmp_path, lists, "lists.csv"), regions, "region")
    assert from_edges.edges.tolist() == from_lists.edges.tolist() == [[0, 1], [0, 2], [1, 2]]
    assert from_edges.islands == [] and from_lists.islands == ["d", "e"]
    assert len(set(from_lists.component)) == 3  # the triangle and two islands


@pytest.mark.parametrize("n", [5, 7, 12])
def test_the_bym2_scaling_factor_of_a_ring_is_its_marginal_variance(tmp_path, n):
    """On a ring every region has the same ICAR marginal variance under the sum-to-zero
    constraint, (n^2 - 1) / (12 n); the geometric mean of equal values is that value."""
    graph = read_graph(write(tmp_path, ring(n)), [f"r{i}" for i in range(n)], "region")
    np.testing.assert_allclose(graph.scaling_factors(), (n**2 - 1) / (12 * n), rtol=1e-10)


def test_each_component_is_scaled_on_its_own_and_an_island_by_one(tmp_path):
    edges = pd.concat([ring(5), ring(7).replace(r"^r", "s", regex=True)])
    regions = [*(f"r{i}" for i in range(5)), *(f"s{i}" for i in range(7)), "island"]
    graph = read_graph(write(tmp_path, neighbour_lists(edges, regions)), regions, "region")
    assert graph.islands == ["island"]
    np.testing.assert_allclose(graph.scaling_factors(), [*[24 / 60] * 5, *[48 / 84] * 7, 1.0])


@pytest.mark.parametrize(("rows", "regions", "expected"), [
    ({"a": ["r0", "r1"], "b": ["r1", "r2"]}, ["r0", "r1", "r2", "r3"], ["'r3'", "are not in the graph", "Fix"]),
    ({"a": ["r0", "r1"], "b": ["r1", "zz"]}, ["r0", "r1"], ["'zz'", "does not have", "Fix"]),
    ({"a": ["r0", "r1"], "b": ["r1", "r1"]}, ["r0", "r1"], ["'r1'", "their own neighbours", "Fix"]),
    ({"region": ["r0", "r1"], "neighbours": ["r1", ""]}, ["r0", "r1"], ["'r0 lists r1'", "not the reverse", "Fix"]),
    ({"a": ["r0"], "b": ["r1"], "c": ["r2"]}, ["r0", "r1"], ["3 columns", "two"]),
], ids=["region missing", "unknown region", "self edge", "one-way neighbours", "three columns"])
def test_a_graph_that_does_not_describe_the_data_is_refused_naming_the_regions(tmp_path, rows, regions, expected):
    path = write(tmp_path, pd.DataFrame(rows))
    with pytest.raises(DataError) as raised:
        read_graph(path, regions, "county")
    message = str(raised.value)
    assert message.startswith(str(path))
    for part in expected:
        assert part in message, message
