"""Turn a tidy CSV into the arrays and coordinates the models need."""

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from {{ cookiecutter.module_name }}.config import AnalysisConfig
from {{ cookiecutter.module_name }}.data.graph import AreaGraph, read_graph
from {{ cookiecutter.module_name }}.data.preparation import described, run_preparation
from {{ cookiecutter.module_name }}.data.tables import closest_column, read_table
from {{ cookiecutter.module_name }}.data.timeline import check_times, lags
from {{ cookiecutter.module_name }}.data.validation import DataError, check_imputed, check_measurements, validate
from {{ cookiecutter.module_name }}.families import family_record
from {{ cookiecutter.module_name }}.formula_syntax import check_response, formula_columns

__all__ = ["DataError", "GroupedData", "load_data", "prepare", "read_table"]


@dataclass(frozen=True)
class GroupedData:
    """Observations with integer group codes, predictors and named coordinates.

    Predictors keep their own units: the models scale their priors to the data rather than
    the data to the priors (see ``priors.py``), so every estimate is per unit of its
    predictor.

    Attributes
    ----------
    outcome : ndarray, shape (n_obs,)
    predictors : ndarray, shape (n_obs, n_predictors)
        As in the file.
    group_codes : ndarray of int, shape (n_obs,)
        Index into ``coords[group_dim]``.
    coords : dict
        ``{group_dim: labels, "predictor": names, "obs": row ids}`` for PyMC and ArviZ.
    outcome_name, group_dim : str
        The config's column names, used as variable and dimension names.
    scaling : dict
        ``{column: (mean, sd)}`` over rows of every predictor and group-level predictor.
    frame : DataFrame
        The whole table after validation: what formula models are built on.
    group_predictors : ndarray, shape (n_groups, n_group_predictors)
        Group-level predictors, one row per group in ``coords[group_dim]``.
    trials, exposure, event : ndarray or None
        Number of trials (binomial), exposure (count families) and whether the event was
        observed (1) or the time right-censored (0), if the config names them.
    adjacency : Path or None
        ``data.adjacency``, checked against every column a spatial effect is on.
    graph : AreaGraph or None
        Its graph on ``groups`` (a custom model's spatial effects), if the groups are its regions.
    source : Path or None
        The data file, named in the messages of checks made when a model is built.
    """

    outcome: np.ndarray
    predictors: np.ndarray
    group_codes: np.ndarray
    coords: dict[str, list]
    outcome_name: str
    group_dim: str
    scaling: dict[str, tuple[float, float]]
    frame: pd.DataFrame
    group_predictors: np.ndarray
    trials: np.ndarray | None = None
    exposure: np.ndarray | None = None
    event: np.ndarray | None = None
    adjacency: Path | None = None
    graph: AreaGraph | None = None
    source: Path | None = None

    @property
    def groups(self) -> list:
        return self.coords[self.group_dim]

    @property
    def predictor_names(self) -> list[str]:
        return self.coords["predictor"]

    @property
    def group_predictor_names(self) -> list[str]:
        return self.coords.get("group_predictor", [])

    @property
    def group_sizes(self) -> np.ndarray:
        """Observations per group, in the order of ``groups``."""
        return np.bincount(self.group_codes, minlength=len(self.groups))

    def rows(self, positions: np.ndarray) -> "GroupedData":
        """The same data restricted to the rows at ``positions``; every group is kept."""
        def pick(values):
            return None if values is None else values[positions]

        return replace(
            self, outcome=self.outcome[positions], predictors=self.predictors[positions],
            group_codes=self.group_codes[positions], frame=self.frame.iloc[positions],
            coords={**self.coords, "obs": [self.coords["obs"][position] for position in positions]},
            trials=pick(self.trials), exposure=pick(self.exposure), event=pick(self.event),
        )

    def aligned_with(self, draws) -> "GroupedData":
        """The rows that a fit's (or prior predictive's) pointwise draws describe: all rows,
        or the random subsample taken on large data (see ``pointwise.py``)."""
        labels = draws["observed_data"]["obs"].values
        if len(labels) == len(self.outcome):
            return self
        return self.rows(pd.Index(self.coords["obs"]).get_indexer(labels))


def check_columns(frame: pd.DataFrame, config: AnalysisConfig) -> None:
    """Every column the config names must be in the file; suggest the closest name if not."""
    roles = {"data.outcome": [config.data.outcome], "data.group": [config.data.group]}
    roles["data.predictors"] = config.data.predictors
    roles["data.group_predictors"] = config.data.group_predictors
    roles["data.trials"] = [config.data.trials] if config.data.trials else []
    roles["data.exposure"] = [config.data.exposure] if config.data.exposure else []
    roles["data.event"] = [config.data.event] if config.data.event else []
    for spec in config.models:
        if spec.formula is not None:
            roles[f"models[{spec.name}].formula"] = formula_columns(spec.formula)
            for formula in spec.distributional:  # the outcome's column as the response: checked above
                roles[f"models[{spec.name}].distributional {formula!r}"] = formula_columns(
                    f"{config.data.outcome} ~ {formula.split('~', 1)[1]}")
    for role, columns in roles.items():
        for column in columns:
            if column in frame.columns:
                continue
            close = closest_column(column, frame.columns)
            hint = f" Did you mean {close!r}?" if close else ""
            raise DataError(
                f"{config.data_path}: column {column!r} named in the config ({role}) is not in the file. "
                f"Columns found: {', '.join(frame.columns)}.{hint}"
            )
    for spec in config.models:  # after the columns: a misspelled data.outcome is named as such
        if spec.formula is not None:
            try:
                check_response(spec.formula, config.data.outcome, config.data.trials, config.family_of(spec.name))
            except ValueError as error:
                raise DataError(f"{config.source}: models[{spec.name}].formula: {error}") from None


def group_levels(labels: pd.Series) -> list:
    """The groups in a stable order: a categorical's own order, otherwise sorted.

    Integer and string labels both work; mixed types are sorted as text.
    """
    if isinstance(labels.dtype, pd.CategoricalDtype):
        present = set(labels.dropna().unique())
        return [level for level in labels.cat.categories if level in present]
    levels = labels.dropna().unique().tolist()
    try:
        return sorted(levels)
    except TypeError:
        return sorted(levels, key=str)


def group_level_table(frame: pd.DataFrame, group: str, columns: list[str], path) -> pd.DataFrame:
    """One row per group of columns that must be constant within each group."""
    varying = [column for column in columns if (frame.groupby(group, observed=True)[column].nunique() > 1).any()]
    if varying:
        raise DataError(
            f"{path}: group-level predictor(s) {varying} vary within a {group!r} group; "
            "Fix: give each group one value, or list the column under data.predictors if it varies by observation."
        )
    return frame.groupby(group, observed=True)[columns].first()


def ordinal_codes(values: pd.Series, config: AnalysisConfig) -> tuple[np.ndarray, list]:
    """Ordered categories as codes 0..K-1, and the categories: ``data.categories`` in their
    order, else the whole numbers found, in numeric order. Every model must then be ordinal:
    the others would model other numbers."""
    others = [name for name in config.model_names if not family_record(config.family_of(name)).ordinal]
    if others:
        raise DataError(f"{config.source}: models {others} are not ordinal while others are: every model must model "
                        "the same outcome. Fix: give them family cumulative too, or model the categories separately")
    column = f"column {config.data.outcome!r} (data.outcome)"
    if config.data.categories is not None:
        categories = [str(label) for label in config.data.categories]
        counts = values.astype(str).value_counts()
        empty = [label for label in categories if label not in counts.index]
        if empty:  # a cut-point between categories no row is in: nothing but its prior places it
            raise DataError(f"{config.data_path}: {column} has no row in the categor(ies) {empty} of data.categories. "
                            "Fix: merge them into a neighbouring category, or remove them from data.categories")
        return pd.Categorical(values.astype(str), categories=categories).codes.astype(float), categories
    categories = sorted(values.unique())
    if len(categories) < 3:
        raise DataError(f"{config.data_path}: {column} has {len(categories)} categories "
                        f"({', '.join(str(value) for value in categories)}); an ordinal model needs at least 3. "
                        "Fix: family bernoulli for two")
    return pd.Categorical(values, categories=categories).codes.astype(float), categories


def prepare(frame: pd.DataFrame, config: AnalysisConfig) -> GroupedData:
    """Encode groups as integer codes; predictors stay in their own units.

    Groups keep a stable order (see :func:`group_levels`) whatever the row order.
    """
    check_columns(frame, config)
    frame = validate(frame, config, config.data_path)
    group = config.data.group
    groups = group_levels(frame[group])
    codes = pd.Categorical(frame[group], categories=groups).codes.astype("int64")
    predictors = frame[config.data.predictors].astype(float)
    group_table = group_level_table(frame, group, config.data.group_predictors, config.data_path)
    group_table = group_table.reindex(groups).astype(float)
    by_row = pd.concat([predictors, frame[config.data.group_predictors].astype(float)], axis=1)
    scaling = {column: (float(values.mean()), float(values.std())) for column, values in by_row.items()}
    coords = {group: [str(label) for label in groups], "predictor": list(config.data.predictors)}
    if config.data.group_predictors:
        coords["group_predictor"] = list(config.data.group_predictors)
    coords["obs"] = frame.index.tolist()

    def optional_column(name: str | None) -> np.ndarray | None:
        return None if name is None else frame[name].to_numpy()

    if any(family_record(config.family_of(name)).ordinal for name in config.model_names):
        outcome, categories = ordinal_codes(frame[config.data.outcome], config)
        # Bambi's ordinal families read an ordered categorical; the models and checks, its codes
        frame = frame.assign(**{config.data.outcome: pd.Categorical.from_codes(outcome.astype(int), categories=categories,
                                                                               ordered=True)})
    else:
        outcome = frame[config.data.outcome].to_numpy(dtype=float)

    adjacency, graph = config.resolve(config.data.adjacency) if config.data.adjacency else None, None
    if adjacency is not None:
        on = {spec.spatial.group for spec in config.models if spec.spatial is not None}
        for column in sorted(on - {group}):
            read_graph(adjacency, group_levels(frame[column]), column)
        if group in on or any(spec.custom for spec in config.models):
            graph = read_graph(adjacency, coords[group], group)
    for spec in config.models:
        if spec.temporal is not None:
            check_times(frame, spec.temporal.time, int(spec.temporal.type[-1]), config.data_path)
        if spec.autocorrelation is not None:
            lags(frame, spec.autocorrelation.time, spec.autocorrelation.group, config.data_path)
        if spec.measurement is not None:
            check_measurements(frame, spec.measurement.column, spec.measurement.sd, config.data_path)
        if spec.imputation is not None:
            check_imputed(frame, spec.imputation.column, config.data_path)

    return GroupedData(
        outcome=outcome,
        predictors=predictors.to_numpy().reshape(len(frame), len(config.data.predictors)),
        group_codes=codes,
        coords=coords,
        outcome_name=config.data.outcome,
        group_dim=group,
        scaling=scaling,
        frame=frame,
        group_predictors=group_table.to_numpy(),
        trials=optional_column(config.data.trials),
        exposure=optional_column(config.data.exposure),
        event=optional_column(config.data.event),
        adjacency=adjacency,
        graph=graph,
        source=config.data_path,
    )


def load_data(config: AnalysisConfig) -> GroupedData:
    """Read the configured CSV and prepare it for the models.

    If the config names a data preparation (``data.prepare``), the CSV is first made from the
    raw files, unless it is current (``preparation.py``).
    """
    if config.data.prepare is None:
        return prepare(read_table(config.data_path), config)
    run_preparation(config)
    try:
        return prepare(read_table(config.data_path), config)
    except DataError as error:
        raise DataError(f"{error}\n{config.data.path} is made by {described(config)}: "
                        "fix the raw files or the function.") from None
