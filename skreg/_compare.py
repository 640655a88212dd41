"""Cross-validate several models on the same folds and tabulate the results, one row per model."""

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.model_selection import ParameterGrid, check_cv, cross_validate


def compare(
    models,
    X,
    y,
    *,
    param_grid=None,
    cv=5,
    scoring=None,
    n_jobs=None,
    return_train_score=False,
    error_score=np.nan,
):
    """Cross-validate models on the same folds and return one row of scores per model.

    The folds are drawn once, so that the differences between the rows come
    from the models, not from the splits; the table draws as a bar chart with
    :func:`plot_comparison`.

    Parameters
    ----------
    models : dict of {str: estimator} or estimator
        Named estimators to compare; or, with ``param_grid``, the one base
        estimator whose variants are compared.
    X : array-like of shape (n_samples, n_features)
        The data every model is cross-validated on.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        The targets.
    param_grid : dict or list of dicts, default=None
        As in :class:`~sklearn.model_selection.GridSearchCV`: every setting of
        :class:`~sklearn.model_selection.ParameterGrid` is applied to a clone
        of ``models`` and named by its parameters, e.g. ``"dropout=0.5, l2=0.001"``
        (floats written exactly, so that ``0.1234567`` and ``0.1234568`` stay
        apart). Names must be distinct: two models that would share one raise
        a ValueError (``{1: a, "1": b}``, or grid values with the same text).
    cv : int, cross-validation generator or iterable, default=5
        As in :func:`~sklearn.model_selection.cross_validate`. It is resolved
        once (an int gives stratified folds for classifiers), so every model
        sees the same folds.
    scoring : str, callable, list, tuple or dict, default=None
        As in :func:`~sklearn.model_selection.cross_validate`; None uses each
        estimator's ``score`` and names the column "score".
    n_jobs : int, default=None
        Parallel fits within each model's cross-validation.
    return_train_score : bool, default=False
        Also report training-fold scores (``train_<metric>_mean/std``).
    error_score : "raise" or float, default=np.nan
        Score recorded when a fit fails, as in ``cross_validate``.

    Returns
    -------
    results : pandas.DataFrame
        Indexed by model name, in the given order, with columns
        ``<metric>_mean`` and ``<metric>_std`` for every metric (scikit-learn's
        scorer names and signs, so higher is better; e.g. ``neg_log_loss``),
        then ``fit_time_mean``, ``fit_time_std`` and ``score_time_mean`` in
        seconds, and, for a grid, one column per varied parameter.

    See Also
    --------
    plot_comparison : Draw one metric of the table.
    sklearn.model_selection.cross_validate : The cross-validation of each model.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import scale
    >>> from skreg import RegularizedMLPClassifier, compare
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> model = RegularizedMLPClassifier(max_iter=20, random_state=0)
    >>> table = compare(model, scale(X), y, cv=3, scoring=["accuracy"],
    ...                 param_grid={"dropout": [0.0, 0.5]})
    >>> list(table.index)
    ['dropout=0.0', 'dropout=0.5']
    """
    named, grid_params = _named_models(models, param_grid)
    first = next(iter(named.values()))
    folds = list(check_cv(cv, y, classifier=is_classifier(first)).split(X, y))
    rows = []
    for name, model in named.items():
        scores = cross_validate(
            model, X, y, cv=folds, scoring=scoring, n_jobs=n_jobs,
            return_train_score=return_train_score, error_score=error_score,
        )
        row = {"model": name}
        for key, values in scores.items():
            if key.startswith(("test_", "train_")):
                metric = key[len("test_"):] if key.startswith("test_") else key
                row[f"{metric}_mean"] = float(np.mean(values))
                row[f"{metric}_std"] = float(np.std(values))
        row["fit_time_mean"] = float(np.mean(scores["fit_time"]))
        row["fit_time_std"] = float(np.std(scores["fit_time"]))
        row["score_time_mean"] = float(np.mean(scores["score_time"]))
        row.update(grid_params.get(name, {}))
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


def _named_models(models, param_grid):
    """Return ``({name: estimator}, {name: varied parameters})`` from ``compare``'s arguments."""
    if param_grid is None:
        if not isinstance(models, dict) or not models:
            raise TypeError(
                "models must be a non-empty dict {name: estimator}, or one estimator with "
                f"param_grid; got {type(models).__name__}."
            )
        named = {}
        for name, model in models.items():
            if not hasattr(model, "fit"):
                raise TypeError(f"models[{name!r}] is not an estimator: {model!r}.")
            _add_unique(named, str(name), model, f"the keys {name!r}")
        return named, {}
    if not isinstance(models, BaseEstimator):
        raise TypeError(
            "With param_grid, models must be one scikit-learn estimator, got "
            f"{type(models).__name__}."
        )
    named, varied = {}, {}
    for params in ParameterGrid(param_grid):
        name = ", ".join(f"{key}={_exact(value)}" for key, value in sorted(params.items()))
        name = name or "default"
        _add_unique(named, name, clone(models).set_params(**params), f"the settings {params}")
        varied[name] = params
    return named, varied


def _add_unique(named, name, model, what):
    """Add ``model`` as ``named[name]``; a name that is taken would drop a row of the table."""
    if name in named:
        raise ValueError(
            f"Two models would both be named {name!r} ({what} and an earlier one); compare "
            "needs a distinct name for each model. Give the models distinct names as a dict."
        )
    named[name] = model


def _exact(value):
    """Text for a parameter value in a model name, distinct for distinct numbers."""
    if isinstance(value, (float, np.floating)):
        return repr(float(value))  # the shortest text that reads back as the same float
    return repr(value) if isinstance(value, (str, BaseEstimator)) else str(value)


def plot_comparison(results, metric=None, *, ax=None):
    """Horizontal bar chart of one metric of :func:`compare`'s table, with +- one std.

    One bar per model, in the table's order, at the metric's mean over folds,
    with an error bar of one standard deviation.

    Parameters
    ----------
    results : pandas.DataFrame
        The table returned by :func:`compare`.
    metric : str, default=None
        Metric name without the ``_mean``/``_std`` suffix, e.g. "accuracy" or
        "neg_log_loss"; None takes the first metric of the table.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn on.

    See Also
    --------
    compare : Make the table.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from skreg import plot_comparison
    >>> table = pd.DataFrame(
    ...     {"accuracy_mean": [0.95, 0.97], "accuracy_std": [0.02, 0.01]},
    ...     index=["dropout=0.0", "dropout=0.5"])
    >>> ax = plot_comparison(table)
    >>> [label.get_text() for label in ax.get_yticklabels()]
    ['dropout=0.0', 'dropout=0.5']
    """
    import matplotlib.pyplot as plt  # imported here: matplotlib is an optional dependency

    metrics = [c[: -len("_mean")] for c in results.columns if c.endswith("_mean")]
    if metric is None:
        metric = metrics[0]
    if metric not in metrics:
        raise ValueError(f"metric={metric!r} is not in the table; it has {metrics}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.4 * len(results) + 1.2))
    names = list(results.index)
    positions = np.arange(len(names))
    ax.barh(positions, results[f"{metric}_mean"], xerr=results[f"{metric}_std"],
            color="tab:blue", alpha=0.8, capsize=3)
    ax.set_yticks(positions, labels=names)
    ax.invert_yaxis()
    ax.set_xlabel(f"{metric} (mean +- std over folds)")
    low = (results[f"{metric}_mean"] - results[f"{metric}_std"]).min()
    high = (results[f"{metric}_mean"] + results[f"{metric}_std"]).max()
    margin = 0.1 * (high - low) if high > low else 0.05 * abs(high) + 1e-3
    ax.set_xlim(low - margin, high + margin)
    return ax
