"""Small skorch callbacks that skreg adds to every net, each with one job."""

import numpy as np
import torch
from skorch.callbacks import Callback


class ValidationScore(Callback):
    """Record a score of the validation split in the history as ``valid_score``.

    It reuses the predictions that skorch's validation step has already made, so
    it costs no extra forward pass.

    Parameters
    ----------
    score_fn : callable
        ``score_fn(y_true, y_pred)`` on the concatenated torch tensors of one
        epoch; higher is better.
    """

    def __init__(self, score_fn):
        self.score_fn = score_fn

    def on_epoch_begin(self, net, **kwargs):
        self.y_true_, self.y_pred_ = [], []

    def on_batch_end(self, net, batch=None, training=False, y_pred=None, **kwargs):
        if not training:
            self.y_true_.append(batch[1])
            self.y_pred_.append(y_pred.detach())

    def on_epoch_end(self, net, **kwargs):
        if self.y_pred_:
            score = self.score_fn(torch.cat(self.y_true_), torch.cat(self.y_pred_))
            net.history.record("valid_score", float(score))
        self.y_true_, self.y_pred_ = [], []


def accuracy_from_logits(y_true, logits):
    """Fraction of rows whose largest logit is the true class."""
    return (logits.argmax(dim=1) == y_true).float().mean().item()


def r2_from_outputs(y_true, y_pred):
    """Coefficient of determination, averaged uniformly over outputs (as sklearn's ``r2_score``)."""
    residual = ((y_true - y_pred) ** 2).sum(dim=0)
    total = ((y_true - y_true.mean(dim=0)) ** 2).sum(dim=0)
    r2 = 1 - residual / total.clamp_min(np.finfo(np.float32).tiny)
    return r2.mean().item()
