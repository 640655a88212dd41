"""The checks of the fitted attributes in a skreg file: one row of ``FITTED`` per attribute.

Add a row here for each new attribute that ``fit`` sets: :func:`skreg.save` refuses
to write a fitted attribute (a name ending in ``_``) that the table lacks, and
:func:`skreg.load` refuses to read one. A check receives the decoded value and a
:class:`Context`, and raises a ``ValueError`` (or ``TypeError``) whose message says
what the value must be; the loader prefixes the field and the file's name.
"""

import math
from dataclasses import dataclass

import numpy as np

from ._output import check_output_layout
from ._persistence_checks import Rejected, decode, short


@dataclass
class Context:
    """What a fitted attribute's check may read.

    ``fitted`` holds the decoded attributes; those above the checked one in ``FITTED``
    have passed their checks.
    """

    estimator: object
    fitted: dict
    history: list

    def history_values(self, key):
        return [epoch.get(key) for epoch in self.history]


def _int(value, low, high=None):
    if type(value) is not int or value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"from {low} to {high}"
        raise ValueError(f"must be an integer {bound}, got {short(value)}.")


def _finite(value):
    if not isinstance(value, float) or not math.isfinite(value):
        raise ValueError(f"must be a finite float, got {short(value)}.")


def _finite_floats(value, length):
    if not isinstance(value, list) or len(value) != length:
        raise ValueError(f"must be a list of {length} floats, got {short(value)}.")
    for item in value:
        _finite(item)


def _float_vector(value, length, positive=False):
    if not (isinstance(value, np.ndarray) and value.dtype.kind == "f"
            and value.shape == (length,)):
        raise ValueError(f"must be a float array of shape ({length},), got {short(value)}.")
    if not np.isfinite(value).all() or (positive and not (value > 0).all()):
        kind = "positive and finite" if positive else "finite"
        raise ValueError(f"must hold {kind} values, got {short(value.tolist())}.")


def check_n_features_in(value, ctx):
    _int(value, 1)


def check_feature_names_in(value, ctx):
    n = ctx.fitted["n_features_in_"]
    if not (isinstance(value, np.ndarray) and value.dtype == object and value.shape == (n,)
            and all(isinstance(v, str) for v in value)):
        raise ValueError(f"must be an object array of {n} strings, got {short(value)}.")


def check_classes(value, ctx):
    if not (isinstance(value, np.ndarray) and value.ndim == 1 and len(value) >= 2):
        raise ValueError(f"must be a 1-D array of at least 2 labels, got {short(value)}.")
    if value.dtype.kind == "f" and not np.isfinite(value).all():
        raise ValueError("holds NaN or infinite labels.")
    try:
        ordered = np.unique(value)
    except TypeError:
        raise ValueError("holds labels that cannot be sorted (mixed types).") from None
    if len(ordered) != len(value) or not np.array_equal(ordered, value):
        raise ValueError(f"must be sorted and unique, as np.unique returns, got {short(value)}.")


def check_out_activation(value, ctx):
    if ctx.estimator._is_classifier:
        allowed = ("softmax", "logistic")
    else:
        # The regressor's output follows its loss: the Poisson loss has a log link.
        allowed = ("exp",) if ctx.estimator.loss == "poisson" else ("identity",)
    if value not in allowed:
        raise ValueError(f"must be one of {allowed} (for these parameters), got {short(value)}.")


def check_n_outputs(value, ctx):
    _int(value, 1)
    if ctx.estimator._is_classifier:
        fitted = ctx.fitted
        check_output_layout(fitted["classes_"], value, fitted["out_activation_"], value)


def check_y_mean(value, ctx):
    _float_vector(value, ctx.fitted["n_outputs_"])
    if ctx.fitted["out_activation_"] == "exp" and value.any():
        raise ValueError("must be zeros: Poisson targets are not standardized.")


def check_y_scale(value, ctx):
    _float_vector(value, ctx.fitted["n_outputs_"], positive=True)
    if ctx.fitted["out_activation_"] == "exp" and not (value == 1).all():
        raise ValueError("must be ones: Poisson targets are not standardized.")


def check_n_iter(value, ctx):
    # The epochs (L-BFGS iterations) of the last call; the history holds every call's.
    _int(value, 0, len(ctx.history))


def check_loss_curve(value, ctx):
    _finite_floats(value, len(ctx.history))
    if value != ctx.history_values("train_loss"):
        raise ValueError("differs from the training losses in the history.")


def check_loss(value, ctx):
    _finite(value)


def check_validation_scores(value, ctx):
    if value is None:
        return
    if not ctx.estimator.early_stopping:
        raise ValueError("is set, but early_stopping is off.")
    _finite_floats(value, len(ctx.history))
    if value != ctx.history_values("valid_score"):
        raise ValueError("differs from the validation scores in the history.")


def check_best_epoch(value, ctx):
    scores = ctx.fitted["validation_scores_"]
    if value is None and scores is None:
        return
    if scores is None:
        raise ValueError("is set, but validation_scores_ is None.")
    _int(value, 1, len(scores))


def check_best_validation_score(value, ctx):
    epoch = ctx.fitted["best_epoch_"]
    expected = None if epoch is None else ctx.fitted["validation_scores_"][epoch - 1]
    if value != expected or type(value) is not type(expected):
        raise ValueError(f"must be {expected!r}, the score of best_epoch_, got {short(value)}.")


def check_best_loss(value, ctx):
    # Early stopping tracks the validation score instead (best_loss_ is None, as in sklearn).
    if ctx.fitted["validation_scores_"] is not None:
        if value is not None:
            raise ValueError(f"must be None with validation scores, got {short(value)}.")
        return
    _finite(value)


def check_t(value, ctx):
    _int(value, 0)


def check_no_improvement_count(value, ctx):
    _int(value, 0, len(ctx.history))


def check_n_layers(value, ctx):
    expected = len(ctx.estimator._hidden_sizes()) + 2
    if value != expected or type(value) is not int:
        raise ValueError(f"must be {expected} (input, hidden and output layers), got "
                         f"{short(value)}.")


def check_coefs_dtype(value, ctx):
    if value not in COEFS_DTYPES:
        raise ValueError(f"must be one of {sorted(COEFS_DTYPES)}, got {short(value)}.")


# The dtypes coefs_ is shown in: the training data's float dtype.
COEFS_DTYPES = {"float32": np.dtype(np.float32), "float64": np.dtype(np.float64)}
BOTH = ("classifier", "regressor")


@dataclass(frozen=True)
class Fitted:
    """A row of ``FITTED``: the check of one attribute, the estimators that have it (``on``),
    those whose files must hold it (``required``), and, for a value JSON cannot hold
    as it is, its JSON form (``dump``) and back (``load``, after the check)."""

    check: object
    on: tuple = BOTH
    required: tuple = BOTH
    dump: object = None
    load: object = None


# In checking order: a check may read the attributes above it.
FITTED = {
    "n_features_in_": Fitted(check_n_features_in),
    "feature_names_in_": Fitted(check_feature_names_in, required=()),
    "classes_": Fitted(check_classes, on=("classifier",), required=("classifier",)),
    "out_activation_": Fitted(check_out_activation),
    "n_outputs_": Fitted(check_n_outputs),
    "y_mean_": Fitted(check_y_mean, on=("regressor",), required=("regressor",)),
    "y_scale_": Fitted(check_y_scale, on=("regressor",), required=("regressor",)),
    "n_iter_": Fitted(check_n_iter),
    "loss_curve_": Fitted(check_loss_curve),
    "loss_": Fitted(check_loss),
    "validation_scores_": Fitted(check_validation_scores),
    "best_epoch_": Fitted(check_best_epoch),
    "best_validation_score_": Fitted(check_best_validation_score),
    "best_loss_": Fitted(check_best_loss),
    # Set by the stochastic solvers only, as in sklearn.
    "t_": Fitted(check_t, required=()),
    "_no_improvement_count": Fitted(check_no_improvement_count, required=()),
    "n_layers_": Fitted(check_n_layers),
    "_coefs_dtype": Fitted(check_coefs_dtype, dump=lambda dtype: dtype.name,
                           load=COEFS_DTYPES.__getitem__),
}
# Not saved: the network, which the file's tensors hold.
NOT_SAVED = frozenset({"net_"})


def check_fitted(estimator, raw, history):
    """The fitted attributes of the file as the estimator holds them, each checked by its row."""
    if not isinstance(raw, dict):
        raise Rejected("fitted", "is not a JSON object.")
    kind = "classifier" if estimator._is_classifier else "regressor"
    rows = {name: row for name, row in FITTED.items() if kind in row.on}
    for name in raw:
        if name not in rows:
            raise Rejected(f"fitted.{name[:40]}", f"is not a fitted attribute of "
                           f"{type(estimator).__name__} that skreg files hold.")
    fitted = {name: decode(value, f"fitted.{name}") for name, value in raw.items()}
    ctx = Context(estimator, fitted, history)
    for name, row in rows.items():
        if name not in fitted:
            if kind in row.required:
                raise Rejected(f"fitted.{name}", "is missing.")
            continue
        try:
            row.check(fitted[name], ctx)
        except (ValueError, TypeError) as exc:
            raise Rejected(f"fitted.{name}", str(exc)) from None
    return {name: value if rows[name].load is None else rows[name].load(value)
            for name, value in fitted.items()}
