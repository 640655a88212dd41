"""Checks of user input that scikit-learn's own validation does not make, with messages
that name the problem and how to fix it.

Everything here reads its arguments and never writes to them.
"""


import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, InvalidParameterError
from sklearn.utils.validation import validate_data

ENCODE_HINT = (
    "skreg's networks need numeric features: encode text and categorical columns first, "
    "for example with sklearn.preprocessing.OneHotEncoder inside a "
    "sklearn.compose.ColumnTransformer (see the README's pipeline example)."
)


def _non_numeric_columns(frame):
    """Names and dtypes of the columns of a pandas DataFrame that are not numbers."""
    found = []
    for name, dtype in frame.dtypes.items():
        if isinstance(dtype, pd.CategoricalDtype):
            numeric = pd.api.types.is_numeric_dtype(dtype.categories.dtype)
        elif pd.api.types.is_object_dtype(dtype):
            # Object columns may hold plain numbers; only text (or mixtures) needs encoding.
            kind = pd.api.types.infer_dtype(frame[name], skipna=True)
            numeric = kind in {"integer", "floating", "mixed-integer-float", "decimal",
                               "boolean", "empty"}
        else:
            numeric = pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
        if not numeric:
            found.append(f"{name!r} ({dtype})")
    return found


def validate_input(estimator, X, y="no_validation", **kwargs):
    """:func:`sklearn.utils.validation.validate_data`, with a clear error for text features.

    A DataFrame's non-numeric columns are named before any conversion; for other
    containers numpy's "could not convert string to float" is turned into a
    message that says how to encode the data.

    Raises
    ------
    ValueError
        If ``X`` holds text or categories that are not numbers, or whatever
        ``validate_data`` rejects.
    """
    if isinstance(X, pd.DataFrame):
        columns = _non_numeric_columns(X)
        if columns:
            raise ValueError(
                f"X has {len(columns)} non-numeric column(s): {', '.join(columns[:10])}"
                f"{' ...' if len(columns) > 10 else ''}. {ENCODE_HINT}"
            )
    try:
        return validate_data(estimator, X, y, **kwargs)
    except ValueError as exc:
        if "could not convert string to float" not in str(exc):
            raise
        if _is_text(X):
            raise ValueError(f"X contains text ({exc}). {ENCODE_HINT}") from exc
        raise ValueError(
            f"y contains text ({exc}); {type(estimator).__name__} needs numeric targets. "
            "For class labels use RegularizedMLPClassifier."
        ) from exc


def _is_text(X):
    """Whether converting ``X`` to floats fails on a string (only asked after a failure)."""
    try:
        np.asarray(X, dtype=np.float64)
    except ValueError as exc:
        return "could not convert string to float" in str(exc)
    except TypeError:
        return False
    return False


def check_numeric_target(y, estimator):
    """Return ``y`` as float64, or raise a ValueError if it holds text."""
    try:
        return np.asarray(y, dtype=np.float64)
    except ValueError as exc:
        raise ValueError(
            f"y contains text ({exc}); {type(estimator).__name__} needs numeric targets. "
            "For class labels use RegularizedMLPClassifier."
        ) from exc


def check_poisson_target(y):
    """Raise a ValueError unless every target is a non-negative count or rate (Poisson loss)."""
    if np.any(y < 0):
        raise ValueError(
            "loss='poisson' needs non-negative targets, but y has negative values "
            f"(min {np.min(y):g})."
        )


def reject_booleans_for_numbers(estimator):
    """Raise if a numeric hyperparameter was given as a bool.

    sklearn's ``Interval`` constraints accept ``True`` as the number 1; for
    parameters such as ``l1`` or ``batch_size`` that is a mistake, not a value.
    """
    for name, constraints in estimator._parameter_constraints.items():
        value = getattr(estimator, name)
        if not isinstance(value, (bool, np.bool_)):
            continue
        takes_bools = any(c in ("boolean", "verbose", bool) for c in constraints)
        numeric = any(isinstance(c, Interval) or c == "random_state" for c in constraints)
        if numeric and not takes_bools:
            raise InvalidParameterError(
                f"The {name!r} parameter of {type(estimator).__name__} must be a number, "
                f"not a bool. Got {value!r} instead."
            )


def check_missing_labels(y):
    """Raise a ValueError if class labels hold None or NaN (which ``np.unique`` cannot sort)."""
    y = np.asarray(y)
    if y.dtype != object:
        return  # numeric NaN is caught by validate_data; strings cannot be missing
    missing = pd.isna(y)
    if missing.any():
        raise ValueError(
            f"y contains {int(missing.sum())} missing label(s) (None or NaN); drop those rows "
            "or give them a label of their own."
        )


# Bounds on the network that hidden_layer_sizes describes, checked before anything is
# allocated. Deeper plain MLPs do not train (their gradients vanish or explode long before),
# and a billion float32 weights take 4 GB, 16 GB with their gradients and Adam's two moments.
MAX_HIDDEN_LAYERS = 1000
MAX_PARAMETERS = 10**9


def check_network_size(n_features, hidden_layer_sizes, n_outputs):
    """Raise a ValueError if the network is deeper or larger than skreg builds.

    Parameters
    ----------
    n_features, n_outputs : int
    hidden_layer_sizes : list of int
        Checked in one pass over the list, without building anything.
    """
    if len(hidden_layer_sizes) > MAX_HIDDEN_LAYERS:
        raise ValueError(
            f"hidden_layer_sizes has {len(hidden_layer_sizes)} layers; skreg builds at most "
            f"{MAX_HIDDEN_LAYERS} hidden layers."
        )
    n_parameters = 0
    width_in = n_features
    for width in [*hidden_layer_sizes, n_outputs]:
        n_parameters += (width_in + 1) * width
        width_in = width
    if n_parameters > MAX_PARAMETERS:
        raise ValueError(
            f"hidden_layer_sizes={hidden_layer_sizes!r} with {n_features} features and "
            f"{n_outputs} outputs makes a network of {n_parameters:.3g} weights and biases; "
            f"skreg builds at most {MAX_PARAMETERS:.0e}."
        )


def check_finite_outputs(outputs, X):
    """Return ``outputs``, or raise a ValueError if any of them is NaN or infinite.

    Training stops when its loss stops being finite, so a fitted network has
    finite weights; non-finite outputs then come from inputs so far beyond the
    training data that the arithmetic overflows. A silent NaN prediction would
    be a wrong answer, so this is an error.
    """
    bad_rows = ~np.isfinite(outputs).reshape(len(outputs), -1).all(axis=1)
    if bad_rows.any():
        raise ValueError(
            f"The network's outputs are NaN or infinite for {int(bad_rows.sum())} of "
            f"{len(outputs)} rows of X (largest |X| = {float(np.abs(X).max()):.3g}). Such inputs "
            "are far outside what float32 arithmetic in the network can handle; scale X as it "
            "was scaled for training."
        )
    return outputs

