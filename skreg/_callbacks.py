"""Small skorch callbacks that skreg adds to every net, each with one job."""

import copy
import math

import numpy as np
import torch
from skorch.callbacks import Callback, LRScheduler, PassthroughScoring
from torch.optim.lr_scheduler import CosineAnnealingWarmRestarts, ReduceLROnPlateau

from ._weights import split_target


class ValidationScore(Callback):
    """Record a score of the validation split in the history as ``valid_score``.

    It reuses the predictions that skorch's validation step has already made, so
    it costs no extra forward pass.

    Parameters
    ----------
    score_fn : callable
        ``score_fn(y_true, y_pred, sample_weight)`` on the concatenated torch
        tensors of one epoch (``sample_weight`` is None for unweighted fits);
        higher is better.
    """

    def __init__(self, score_fn):
        self.score_fn = score_fn

    def on_epoch_begin(self, net, **kwargs):
        self.y_true_, self.y_pred_, self.weights_ = [], [], []

    def on_batch_end(self, net, batch=None, training=False, y_pred=None, **kwargs):
        if not training:
            target, sample_weight = split_target(batch[1])
            self.y_true_.append(target)
            self.y_pred_.append(y_pred.detach())
            self.weights_.append(sample_weight)

    def on_epoch_end(self, net, **kwargs):
        if self.y_pred_:
            weighted = self.weights_[0] is not None
            score = self.score_fn(
                torch.cat(self.y_true_),
                torch.cat(self.y_pred_),
                torch.cat(self.weights_) if weighted else None,
            )
            net.history.record("valid_score", float(score))
        self.y_true_, self.y_pred_, self.weights_ = [], [], []


def accuracy_from_logits(y_true, logits, sample_weight=None):
    """(Weighted) fraction of rows whose largest logit is the true class."""
    correct = (logits.argmax(dim=1) == y_true).float()
    if sample_weight is None:
        return correct.mean().item()
    total = sample_weight.sum().clamp_min(np.finfo(np.float32).tiny)
    return ((sample_weight * correct).sum() / total).item()


def r2_from_outputs(y_true, y_pred, sample_weight=None):
    """Coefficient of determination, averaged uniformly over outputs (as sklearn's ``r2_score``).

    With ``sample_weight``, squared errors and the target mean are weighted, as
    in ``r2_score(..., sample_weight=...)``.
    """
    if sample_weight is None:
        residual = ((y_true - y_pred) ** 2).sum(dim=0)
        total = ((y_true - y_true.mean(dim=0)) ** 2).sum(dim=0)
    else:
        w = sample_weight.reshape((-1,) + (1,) * (y_true.ndim - 1))
        mean = (w * y_true).sum(dim=0) / w.sum().clamp_min(np.finfo(np.float32).tiny)
        residual = (w * (y_true - y_pred) ** 2).sum(dim=0)
        total = (w * (y_true - mean) ** 2).sum(dim=0)
    r2 = 1 - residual / total.clamp_min(np.finfo(np.float32).tiny)
    return r2.mean().item()


class NonFiniteLossGuard(Callback):
    """Stop training with a ValueError once a loss is NaN or infinite, restoring the weights.

    A NaN or infinite epoch loss (``train_loss``, or ``valid_loss`` with early
    stopping) means the weights have diverged, typically from a learning rate
    or inputs that are far too large; every prediction made from such weights
    would be NaN. The guard copies the module's and the optimizer's state when a
    call to ``fit``/``partial_fit`` begins; on divergence it puts that state back,
    removes the call's epochs from the history and raises, so a network trained
    before (``warm_start``) keeps its last finite weights.

    It checks each epoch's loss as the epoch ends, and when training ends it checks
    every epoch of the call (another callback may have stopped training before
    the guard saw the last epoch) and the module's final weights and buffers.

    Parameters
    ----------
    keys : tuple of str, default=("train_loss", "valid_loss")
        History entries to check; missing entries are skipped.
    """

    def __init__(self, keys=("train_loss", "valid_loss")):
        self.keys = keys

    def on_train_begin(self, net, **kwargs):
        self.first_epoch_ = len(net.history)
        self.module_state_ = {k: v.detach().clone() for k, v in net.module_.state_dict().items()}
        self.optimizer_state_ = copy.deepcopy(net.optimizer_.state_dict())

    def on_epoch_end(self, net, **kwargs):
        self._check_losses(net, [net.history[-1]])

    def on_train_end(self, net, **kwargs):
        self._check_losses(net, net.history[self.first_epoch_ :])
        for name, tensor in net.module_.state_dict().items():
            if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                self._restore_and_raise(net, f"the network's {name} became NaN or infinite")
        self._forget_state()

    def _check_losses(self, net, epochs):
        for row in epochs:
            for key in self.keys:
                value = row.get(key)
                if value is not None and not math.isfinite(value):
                    self._restore_and_raise(net, f"{key} became {value} in epoch {row['epoch']}")

    def _restore_and_raise(self, net, what):
        net.module_.load_state_dict(self.module_state_)
        net.optimizer_.load_state_dict(self.optimizer_state_)
        del net.history[self.first_epoch_ :]
        self._forget_state()
        raise ValueError(
            f"Training diverged: {what}. Training was stopped and the weights were restored "
            f"to their state before this call to fit. Lower learning_rate_init (it is "
            f"{net.lr:g}), standardize the features (e.g. with StandardScaler) or strengthen "
            "regularization."
        )

    def _forget_state(self):
        # The copies are only needed while training; keeping them would double the model's memory.
        self.module_state_ = self.optimizer_state_ = None


LEARNING_RATE_SCHEDULES = ("constant", "adaptive", "cosine")


def learning_rate_scheduler(schedule, max_iter, tol, monitor):
    """Return skorch's :class:`~skorch.callbacks.LRScheduler` for ``schedule``, or None.

    Parameters
    ----------
    schedule : {"constant", "adaptive", "cosine"}
        "constant" keeps the learning rate (None is returned). "adaptive", as in
        scikit-learn's MLP, divides it by 5 each time ``monitor`` has failed to
        decrease by ``tol`` for two consecutive epochs (torch's
        ``ReduceLROnPlateau``). "cosine" anneals it along half a cosine to zero
        over ``max_iter`` epochs, then restarts (torch's
        ``CosineAnnealingWarmRestarts``; epochs count over all training calls).
    max_iter : int
        Length of one cosine cycle, in epochs.
    tol : float
        Smallest decrease of ``monitor`` that counts as an improvement.
    monitor : str
        History key watched by "adaptive", e.g. "train_loss" or "valid_loss".
    """
    if schedule == "constant":
        return None
    if schedule == "adaptive":
        return LRScheduler(
            policy=ReduceLROnPlateau, monitor=monitor, mode="min", factor=0.2, patience=1,
            threshold=tol, threshold_mode="abs",
        )
    if schedule == "cosine":
        return LRScheduler(policy=CosineAnnealingWarmRestarts, T_0=max_iter)
    raise ValueError(
        f"learning_rate must be one of {LEARNING_RATE_SCHEDULES}, got {schedule!r}."
    )


class BatchLossAverage(PassthroughScoring):
    """skorch's :class:`~skorch.callbacks.PassthroughScoring` for the epoch's losses, made cheap.

    It records the same ``<name>`` and ``<name>_best`` entries, the
    batch-size-weighted mean of the batch values, but reads the epoch's batch
    rows directly: skorch's tuple indexing of the history, its ``KeyError``
    when there is no validation data and ``np.average`` cost about 100
    microseconds per epoch, as much as a whole step of a small network.
    """

    def on_epoch_end(self, net, **kwargs):
        size_key = "train_batch_size" if self.on_train else "valid_batch_size"
        total = weight = 0.0
        seen = False
        for row in net.history[-1]["batches"]:
            if self.name in row and size_key in row:
                total += row[self.name] * row[size_key]
                weight += row[size_key]
                seen = True
        if not seen:  # e.g. no validation data
            return
        score_avg = total / weight
        is_best = self._is_best_score(score_avg)
        if is_best:
            self.best_score_ = score_avg
        net.history.record(self.name, score_avg)
        if is_best is not None:
            net.history.record(self.name + "_best", bool(is_best))
