"""The held-out score of the CV estimators' members when ``scoring=None``.

A classifier's members are scored by their negative log loss, a regressor's by R^2. The
log loss, not accuracy: accuracy moves in steps of one held-out row and stays flat while a
rare class is never predicted, so its first peak comes after a few epochs and the search
would keep those epochs as the best (on the study's Caravan data the refit then trained for
one epoch and ranked no better than chance). Both scores are computed from the networks'
outputs, the same quantity whether a member trains in a stacked network or on its own.
"""

import numpy as np
from sklearn.base import is_classifier
from sklearn.metrics import log_loss
from torch import nn

from ._output import LogisticLoss


def output_score_fn(template):
    """``score(y_true, outputs)`` of held-out network outputs, higher is better.

    Parameters
    ----------
    template : RegularizedMLPClassifier or RegularizedMLPRegressor
        An estimator whose target encoding is prepared (``_prepare_target``); ``y_true``
        is in that encoding.

    Returns
    -------
    score : callable
        The negative mean log loss of a classifier's logits (the sum over labels for a
        multilabel row, without label smoothing), the R^2 of a regressor's outputs.
    """
    if not is_classifier(template):
        return template._validation_score_fn()
    if template.out_activation_ == "logistic":
        criterion = LogisticLoss()
    else:
        criterion = nn.CrossEntropyLoss(reduction="none")

    def negative_log_loss(y_true, logits):
        return -criterion(logits, y_true).mean().item()

    return negative_log_loss


def estimator_score(estimator, X, y):
    """The same score for a fitted estimator: negative log loss or R^2 on ``(X, y)``.

    Parameters
    ----------
    estimator : fitted RegularizedMLPClassifier or RegularizedMLPRegressor
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,) or (n_samples, n_outputs)

    Returns
    -------
    score : float
    """
    if not is_classifier(estimator):
        return estimator.score(X, y)
    proba = estimator.predict_proba(X)
    if estimator.out_activation_ == "logistic" and np.ndim(y) == 2:
        # Multilabel: each label's binary cross-entropy, summed over a row's labels.
        p = np.clip(proba, np.finfo(np.float64).eps, 1 - np.finfo(np.float64).eps)
        y = np.asarray(y, dtype=np.float64)
        return float(np.mean(np.sum(y * np.log(p) + (1 - y) * np.log(1 - p), axis=1)))
    return -log_loss(y, proba, labels=estimator.classes_)
