"""Small skorch callbacks that skreg adds to every net, each with one job."""

import math

import numpy as np
import torch
from skorch.callbacks import Callback, LRScheduler
from torch.optim.lr_scheduler import CosineAnnealingWarmRestarts

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


def poisson_r2_from_log_outputs(y_true, log_pred, sample_weight=None):
    """R^2 of the predictions ``exp(log_pred)`` of a Poisson (log-link) network, as sklearn's."""
    return r2_from_outputs(y_true, log_pred.exp(), sample_weight)


class NonFiniteLossGuard(Callback):
    """Stop training with a ValueError once a loss is NaN or infinite.

    A NaN or infinite epoch loss (``train_loss``, or ``valid_loss`` with early
    stopping) means the weights have diverged, typically from a learning rate
    or inputs that are far too large; every prediction made from such weights
    would be NaN. The guard only detects and raises: the estimator puts the
    network back as it was before the call to ``fit``/``partial_fit`` when any
    exception leaves training (see :func:`skreg._state.fitted_state_kept_on_error`),
    so a network trained before (``warm_start``) keeps its last finite weights.

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

    def on_epoch_end(self, net, **kwargs):
        self._check_losses(net, [net.history[-1]])

    def on_train_end(self, net, **kwargs):
        self._check_losses(net, net.history[self.first_epoch_ :])
        for name, tensor in net.module_.state_dict().items():
            if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                self._raise(net, f"the network's {name} became NaN or infinite")

    def _check_losses(self, net, epochs):
        for row in epochs:
            for key in self.keys:
                value = row.get(key)
                if value is not None and not math.isfinite(value):
                    self._raise(net, f"{key} became {value} in epoch {row['epoch']}")

    def _raise(self, net, what):
        raise ValueError(
            # sklearn's MLP message first, so that code matching it keeps working.
            "Solver produced non-finite parameter weights. The input data may contain large "
            f"values and need to be preprocessed. Training diverged: {what}. Training was "
            "stopped and the weights were restored "
            f"to their state before this call to fit. Lower learning_rate_init (it is "
            f"{net.lr:g}), standardize the features (e.g. with StandardScaler) or strengthen "
            "regularization."
        )


class NoImprovementStopping(Callback):
    """scikit-learn's MLP stopping rule, and its "adaptive" learning rate, as a skorch callback.

    After every epoch it updates the count of epochs without improvement exactly
    as ``sklearn.neural_network.MLPClassifier._update_no_improvement_count``:
    with ``early_stopping`` the monitored value is the validation score
    (``valid_score``, higher is better) and an epoch counts as no improvement when
    its score is below the best score so far plus ``tol``; otherwise the
    monitored value is the training loss and an epoch counts when its loss is
    above the best loss so far minus ``tol``. Once the count exceeds
    ``n_iter_no_change`` (after ``n_iter_no_change + 1`` such epochs) training
    stops, or, with ``adaptive=True`` (sklearn's ``learning_rate="adaptive"``
    with SGD), the learning rate is divided by 5 and the count starts again,
    until the rate falls to 1e-6 or below.

    With ``early_stopping`` it keeps a copy of the module's state at the epoch of
    the best validation score (ties keep the earlier one, as in sklearn) and puts
    it back when training ends, so that the network, ``best_validation_score_``
    and ``best_epoch_`` always describe the same epoch. An epoch whose training
    loss is not finite (the weights have diverged) is never the best one, and
    stops training at once with ``early_stopping``: the best epoch so far is
    restored (sklearn trains on to ``max_iter`` with the diverged weights, and
    restores its best epoch).

    The state (best values, count, best weights) lives on the callback, which
    skorch keeps between the calls of a ``warm_start`` or ``partial_fit``
    sequence, so a continued fit goes on counting as sklearn's does.

    Parameters
    ----------
    n_iter_no_change : int or float
        Epochs without improvement tolerated; ``np.inf`` never stops.
    tol : float
        Smallest improvement that counts.
    early_stopping : bool
        Monitor ``valid_score`` and restore the best epoch, or monitor
        ``train_loss``.
    adaptive : bool, default=False
        Divide the learning rate by 5 instead of stopping, as sklearn's SGD
        with ``learning_rate="adaptive"``.

    Attributes
    ----------
    no_improvement_count_ : int
        sklearn's ``_no_improvement_count``.
    best_loss_ : float or None
        Lowest training loss so far (None with ``early_stopping``).
    best_validation_score_ : float or None
        Highest validation score so far (None without ``early_stopping``).
    best_epoch_ : int or None
        1-based epoch, over the net's whole history, of the best monitored value.
    stopped_ : bool
        Whether the rule ended the last call's training.
    epochs_seen_ : int
        Epochs of the last call that the rule has counted: the epochs that call
        finished (one interrupted before the rule saw its end is not finished).
    """

    # The floor of sklearn's adaptive schedule (SGDOptimizer.trigger_stopping).
    MIN_ADAPTIVE_LR = 1e-6

    def __init__(self, n_iter_no_change, tol, early_stopping, adaptive=False):
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.early_stopping = early_stopping
        self.adaptive = adaptive

    def initialize(self):
        self.no_improvement_count_ = 0
        self.best_loss_ = None if self.early_stopping else math.inf
        self.best_validation_score_ = -math.inf if self.early_stopping else None
        self.best_epoch_ = None
        self.best_state_ = None
        self.stopped_ = False
        self.epochs_seen_ = 0
        return self

    def on_train_begin(self, net, **kwargs):
        self.stopped_ = False
        self.epochs_seen_ = 0
        if self.early_stopping and self.best_state_ is None:
            # sklearn starts from the initial weights as the "best" ones, so that a
            # first epoch that diverges still leaves finite weights to restore.
            self.best_state_ = _state_copy(net.module_)

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        self.epochs_seen_ += 1
        if self.early_stopping:
            # An epoch whose training loss is not finite has diverged weights: whatever
            # its score (an accuracy stays finite), it is never the best epoch, and
            # nothing later can beat the best one kept so far.
            diverged = not math.isfinite(row["train_loss"])
            score = math.nan if diverged else row.get("valid_score", math.nan)
            self._update_from_score(net, score)
        else:
            self._update_from_loss(row["train_loss"], len(net.history))
            diverged = False
        if diverged or self.no_improvement_count_ > self.n_iter_no_change:
            self._trigger_stopping(net, diverged)

    def on_train_end(self, net, **kwargs):
        if self.early_stopping and self.best_state_ is not None:
            net.module_.load_state_dict(self.best_state_)

    def _update_from_score(self, net, score):
        if score < self.best_validation_score_ + self.tol:
            self.no_improvement_count_ += 1
        else:
            self.no_improvement_count_ = 0
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            self.best_epoch_ = len(net.history)
            self.best_state_ = _state_copy(net.module_)

    def _update_from_loss(self, loss, epoch):
        if loss > self.best_loss_ - self.tol:
            self.no_improvement_count_ += 1
        else:
            self.no_improvement_count_ = 0
        if loss < self.best_loss_:
            self.best_loss_ = loss
            self.best_epoch_ = epoch

    def _trigger_stopping(self, net, diverged):
        if self.adaptive and not diverged:
            groups = net.optimizer_.param_groups
            if groups[0]["lr"] > self.MIN_ADAPTIVE_LR:
                for group in groups:
                    group["lr"] = group["lr"] / 5.0
                self.no_improvement_count_ = 0
                return
        self.stopped_ = True
        if net.verbose:
            what = "Validation score" if self.early_stopping else "Training loss"
            print(
                f"{what} did not improve more than tol={self.tol:f} for "
                f"{self.n_iter_no_change} consecutive epochs. Stopping."
            )
        # Training ends after every callback has seen this epoch's end (EndTraining).


class EndTraining(Callback):
    """End training once the stopping rule has decided to stop, after every other callback.

    skorch's way for a callback to end training is a ``KeyboardInterrupt`` from
    ``on_epoch_end``, which also skips the epoch's remaining callbacks. The
    stopping rule therefore only decides (its ``stopped_``), and this callback,
    the last of the net's, raises: every callback, the user's included, sees the
    end of the final epoch, and the rule has seen every finished epoch before a
    user's callback can interrupt training.

    Parameters
    ----------
    stopping : str
        Name of the net's :class:`NoImprovementStopping` callback.
    """

    def __init__(self, stopping):
        self.stopping = stopping

    def on_epoch_end(self, net, **kwargs):
        if dict(net.callbacks_)[self.stopping].stopped_:
            raise KeyboardInterrupt


def _state_copy(module):
    return {name: value.detach().clone() for name, value in module.state_dict().items()}


class InverseScalingLR(Callback):
    """sklearn's ``learning_rate="invscaling"``: ``lr = lr_init / (t + 1) ** power_t`` per epoch.

    ``t`` is the number of training rows seen so far over every call of the fit
    (sklearn's ``t_``), which the estimator passes in as ``rows_seen`` before a
    call and which grows by the training set's size each epoch.

    Parameters
    ----------
    learning_rate_init : float
    power_t : float
    rows_per_epoch : int
        Training rows of one epoch.
    rows_seen : int, default=0
        Rows seen before this call.
    """

    def __init__(self, learning_rate_init, power_t, rows_per_epoch, rows_seen=0):
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.rows_per_epoch = rows_per_epoch
        self.rows_seen = rows_seen

    def initialize(self):
        self.rows_seen_ = self.rows_seen
        return self

    def on_epoch_end(self, net, **kwargs):
        self.rows_seen_ += self.rows_per_epoch
        lr = self.learning_rate_init / (self.rows_seen_ + 1) ** self.power_t
        for group in net.optimizer_.param_groups:
            group["lr"] = lr


LEARNING_RATE_SCHEDULES = ("constant", "invscaling", "adaptive", "cosine")


def learning_rate_scheduler(schedule, max_iter):
    """Return skorch's :class:`~skorch.callbacks.LRScheduler` for skreg's own schedules, or None.

    "cosine" anneals the rate along half a cosine to zero over ``max_iter``
    epochs, then restarts (torch's ``CosineAnnealingWarmRestarts``; epochs count
    over all training calls). sklearn's schedules ("constant", "invscaling",
    "adaptive") are not torch schedulers: "invscaling" is
    :class:`InverseScalingLR` and "adaptive" is part of
    :class:`NoImprovementStopping`, so None is returned for them.
    """
    if schedule == "cosine":
        return LRScheduler(policy=CosineAnnealingWarmRestarts, T_0=max_iter)
    if schedule in LEARNING_RATE_SCHEDULES:
        return None
    raise ValueError(
        f"learning_rate must be one of {LEARNING_RATE_SCHEDULES}, got {schedule!r}."
    )


class BatchLossAverage(Callback):
    """The epoch's losses as skorch's :class:`~skorch.callbacks.PassthroughScoring` records
    them, made cheap.

    It records the same ``<name>`` and ``<name>_best`` entries, the
    batch-size-weighted mean of the batch values and whether it is the best
    so far, but reads the epoch's batch rows directly: skorch's tuple indexing
    of the history, its ``KeyError`` when there is no validation data and
    ``np.average`` cost about 100 microseconds per epoch, as much as a whole
    step of a small network. The net's ``get_default_callbacks`` puts it in
    place of skorch's ``train_loss`` and ``valid_loss`` callbacks.

    Parameters
    ----------
    name : str
        The batch entry averaged, and the epoch entry recorded.
    lower_is_better : bool or None, default=True
        Whether lower values are better; None records no ``<name>_best``.
    on_train : bool, default=False
        Average the training batches (else the validation batches).
    """

    def __init__(self, name, lower_is_better=True, on_train=False):
        self.name = name
        self.lower_is_better = lower_is_better
        self.on_train = on_train

    def initialize(self):
        self.best_score_ = math.inf if self.lower_is_better else -math.inf
        return self

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
        net.history.record(self.name, score_avg)
        if self.lower_is_better is None:
            return
        if self.lower_is_better:
            is_best = score_avg < self.best_score_
        else:
            is_best = score_avg > self.best_score_
        if is_best:
            self.best_score_ = score_avg
        net.history.record(self.name + "_best", bool(is_best))
