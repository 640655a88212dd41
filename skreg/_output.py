"""The classifier's output layer, laid out as in scikit-learn's ``MLPClassifier``.

Three layouts, told apart by the fitted ``out_activation_`` and ``n_outputs_``:

* multiclass: one logit per class, softmax probabilities, cross-entropy of class indices;
* binary: one logit, whose logistic function is the probability of the second class
  (``classes_[1]``), binary cross-entropy of 0/1 targets;
* multilabel: one logit per label of an indicator matrix, each label's own logistic
  probability, binary cross-entropy summed over the labels of a row (scikit-learn's
  log loss of logistic outputs).

This module turns targets into training targets and logits into probabilities,
predictions and validation accuracy for each layout.
"""

import numpy as np
from scipy import sparse
from scipy.special import expit, softmax
from sklearn.utils.validation import column_or_1d
from torch import nn
from torch.nn import functional as F

MULTICLASS, BINARY, MULTILABEL = "multiclass", "binary", "multilabel"
OUT_ACTIVATIONS = {MULTICLASS: "softmax", BINARY: "logistic", MULTILABEL: "logistic"}


def layout_of(out_activation, n_outputs):
    """The layout of a fitted classifier: ``MULTICLASS``, ``BINARY`` or ``MULTILABEL``."""
    if out_activation == "softmax":
        return MULTICLASS
    return BINARY if n_outputs == 1 else MULTILABEL


def n_outputs_of(layout, n_classes):
    """Width of the output layer: one logit for binary targets, else one per class or label."""
    return 1 if layout == BINARY else n_classes


def labels_or_indicator(y):
    """The validated ``y`` as a 1-D array of labels or a dense 2-D indicator matrix.

    A column vector is raveled with scikit-learn's ``DataConversionWarning``,
    as a classifier without multi-output support does; a sparse indicator
    matrix is made dense (the network's targets are dense tensors).
    """
    if sparse.issparse(y):
        y = y.toarray()
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)
    return y


def check_indicator_matrix(y):
    """Raise a ValueError unless the multilabel target ``y`` holds only 0 and 1.

    scikit-learn's ``type_of_target`` calls any integer matrix with two
    distinct values a multilabel indicator, e.g. one of 1 and 2.
    """
    values = np.unique(y)
    if not np.isin(values, [0, 1]).all():
        raise ValueError(
            "A multilabel target must be an indicator matrix of 0 and 1 (one column per "
            f"label), but y holds the values {values.tolist()}."
        )


def encode_target(y, classes, layout):
    """The training target for the network: class indices, or 0/1 floats of shape (n, n_outputs)."""
    if layout == MULTILABEL:
        return np.asarray(y, dtype=np.float32)
    index = np.searchsorted(classes, y)
    if layout == BINARY:
        return index.astype(np.float32).reshape(-1, 1)
    return index.astype(np.int64)


class LogisticLoss(nn.Module):
    """Binary cross-entropy of logistic outputs, summed over a row's outputs.

    Returns one loss per row (as every skreg criterion does, see
    :class:`skreg._net.RegularizedNet`): for a multilabel row, the sum of its
    labels' binary cross-entropies, which is how scikit-learn's log loss
    treats logistic outputs. It is computed from the logits
    (``binary_cross_entropy_with_logits``), never from rounded probabilities.

    Parameters
    ----------
    label_smoothing : float in [0, 1), default=0.0
        Each 0/1 target ``t`` becomes ``t * (1 - label_smoothing) +
        label_smoothing / 2``: for a binary problem exactly what
        cross-entropy's smoothing does to two classes.
    """

    # Per-row losses, which the net averages (see RegularizedNet._fused_mean_loss).
    reduction = "none"

    def __init__(self, label_smoothing=0.0):
        super().__init__()
        self.label_smoothing = label_smoothing

    def _smoothed(self, target):
        if not self.label_smoothing:
            return target
        return target * (1 - self.label_smoothing) + self.label_smoothing / 2

    def forward(self, logits, target):
        target = self._smoothed(target)
        return F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(dim=1)

    def mean_loss(self, logits, target):
        """The mean over rows of :meth:`forward`, for unweighted batches.

        With one output (binary targets) the sum over a row's outputs is left
        out: the same value and gradient bit for bit, one autograd node fewer
        (about 20 microseconds a step). The kernel's own mean reduction would
        save a little more, but it rounds the gradient differently from the
        weighted path, so a fit with unit sample weights would no longer train
        exactly like an unweighted one.
        """
        if logits.shape[1] != 1:
            return self(logits, target).mean()
        target = self._smoothed(target)
        return F.binary_cross_entropy_with_logits(logits, target, reduction="none").mean()

def subset_accuracy_from_logits(y_true, logits, sample_weight=None):
    """(Weighted) fraction of rows whose every logistic output is on the side of its 0/1 target.

    A positive logit is a probability above one half, so this is the accuracy
    of ``predict`` for a binary target (one output) and the subset accuracy of
    scikit-learn's ``score`` for a multilabel one.
    """
    correct = ((logits > 0) == (y_true > 0.5)).all(dim=1).float()
    if sample_weight is None:
        return correct.mean().item()
    total = sample_weight.sum().clamp_min(np.finfo(np.float32).tiny)
    return ((sample_weight * correct).sum() / total).item()


def probabilities(logits, layout):
    """``predict_proba`` from the network's float64 logits.

    Binary: two columns ``[1 - p, p]`` with ``p`` the logistic function of the
    one logit, so the columns follow ``classes_`` and sum to one.
    """
    if layout == MULTICLASS:
        return softmax(logits, axis=1)
    if layout == BINARY:
        p = expit(logits[:, 0])
        return np.column_stack([1 - p, p])
    return expit(logits)


def log_probabilities(logits, layout):
    """``predict_log_proba``: the logarithm of :func:`probabilities`, as scikit-learn's MLP.

    scikit-learn takes the log of its probabilities, so a probability that rounds
    to 0 gives ``-inf`` and one that rounds to 1 gives 0, and the argmax of the
    log probabilities is that of the probabilities, ties included. The same
    holds here (the log of a rounded probability is what callers compare with).
    """
    with np.errstate(divide="ignore"):
        return np.log(probabilities(logits, layout))


def predictions(logits, layout, classes):
    """``predict``: the most probable class, or for multilabel the indicator ``proba > 0.5``.

    The multilabel indicator is an int array, as scikit-learn's MLPClassifier returns.
    """
    if layout == MULTICLASS:
        return classes[np.argmax(logits, axis=1)]
    proba = expit(logits)
    if layout == BINARY:
        return classes[(proba[:, 0] > 0.5).astype(np.intp)]
    return (proba > 0.5).astype(int)


def check_output_layout(classes, n_outputs, out_activation, network_outputs):
    """Raise a ValueError unless a classifier's fitted attributes and network fit together.

    Used when a model is loaded from a file, whose header could say anything.
    """
    n_classes = len(classes)
    if out_activation not in ("softmax", "logistic"):
        problem = f"out_activation_={out_activation!r} is neither 'softmax' nor 'logistic'"
    elif network_outputs != n_outputs:
        problem = f"the network has {network_outputs} outputs but n_outputs_={n_outputs}"
    elif out_activation == "softmax" and not n_outputs == n_classes > 2:
        problem = (
            f"a softmax output needs one logit for each of 3 or more classes, got "
            f"{n_outputs} outputs for {n_classes} classes"
        )
    elif out_activation == "logistic" and n_outputs == 1 and n_classes != 2:
        problem = f"a binary output needs 2 classes, got {n_classes}"
    elif out_activation == "logistic" and n_outputs > 1 and not np.array_equal(
        classes, np.arange(n_outputs)
    ):
        got = np.asarray(classes).tolist()
        problem = f"multilabel outputs need classes_ 0..{n_outputs - 1}, got {got}"
    else:
        return
    raise ValueError(f"The classifier's output layer does not fit its classes: {problem}.")

