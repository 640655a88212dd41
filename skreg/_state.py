"""Keeping an estimator's fitted state whole when a call to ``fit`` fails."""

from contextlib import contextmanager


def _fitted_attributes(estimator):
    return [name for name in vars(estimator) if name.endswith("_") and not name.startswith("__")]


@contextmanager
def fitted_state_kept_on_error(estimator):
    """Put the estimator's fitted attributes back as they were if the block raises.

    A fit sets its attributes one after the other (``n_features_in_`` during
    validation, ``classes_`` or ``y_mean_`` when the target is encoded, ``net_``
    after training). If a later step fails, an estimator fitted before would be
    left with attributes of two different fits, whose predictions are wrong
    without any error. Restoring the earlier attributes keeps it consistent: a
    failed fit leaves a fitted model as it was, and an unfitted one unfitted.
    Objects are restored by reference; ``net_`` itself is protected by
    :class:`skreg._callbacks.NonFiniteLossGuard` during training.
    """
    saved = {name: vars(estimator)[name] for name in _fitted_attributes(estimator)}
    try:
        yield
    except BaseException:
        for name in _fitted_attributes(estimator):
            delattr(estimator, name)
        vars(estimator).update(saved)
        raise
