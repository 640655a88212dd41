"""Stochastic weight averaging (SWA): the mean of the weights over the last epochs of a fit."""

import math

import torch
from skorch.callbacks import Callback
from torch import nn

from ._module import GeneratorDropout


def check_averaging_options(estimator, partial):
    """Raise a ValueError for the settings that weight averaging cannot be combined with."""
    if estimator.swa_start is None:
        return
    if estimator.early_stopping:
        raise ValueError(
            "swa_start and early_stopping=True both choose the weights training ends with: "
            "early stopping restores the weights of one epoch, weight averaging replaces "
            "them with the mean of the last epochs. Use one of them (set swa_start=None or "
            "early_stopping=False)."
        )
    if partial:
        raise ValueError(
            "partial_fit does not support swa_start: each call is one epoch, and weight "
            "averaging averages the epochs of one call to fit. Use fit, or set swa_start=None."
        )
    if estimator.solver == "lbfgs":
        raise ValueError(
            "swa_start averages the weights of the epochs of a stochastic solver; "
            "solver='lbfgs' has no epochs. Use solver='adam' or 'sgd', or set swa_start=None."
        )
    if estimator.cuda_graph:
        raise ValueError(
            "swa_start is not supported with cuda_graph=True; set one of them off."
        )


def _batch_norm_layers(module):
    return [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def recompute_batch_norm(net, X, y):
    """Replace the running statistics of ``net``'s batch-norm layers by those of ``X``.

    The averaged weights are not the weights the running statistics were
    collected with, so they are collected again: one pass over the training
    batches (in order, without augmentation) with batch norm in training mode
    and its running averages reset to a plain mean over the batches, as
    :func:`torch.optim.swa_utils.update_bn` does. Dropout stays off during the
    pass, as at prediction, which also means that the pass draws no random
    numbers.
    """
    module = net.module_
    layers = _batch_norm_layers(module)
    if not layers:
        return
    momenta = [layer.momentum for layer in layers]
    was_training = module.training
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # a cumulative mean over the batches
    module.train()
    for layer in module.modules():
        if isinstance(layer, GeneratorDropout):
            layer.eval()
    try:
        iterator = net.get_iterator(net.get_dataset(X, y), training=False)
        with torch.no_grad():
            for batch in iterator:
                module(batch[0].to(net.device))
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
        module.train(was_training)


class WeightAveraging(Callback):
    """Stochastic weight averaging (Izmailov et al., 2018) over the last epochs of each fit.

    Of the ``net.max_epochs`` epochs a call to ``fit`` may train, the first
    ``floor(start * max_epochs)`` are left out; the weights (every parameter
    of the module) at the end of each later epoch are summed in float64, and
    when training ends the module gets their mean, and batch norm the
    statistics of those weights (:func:`recompute_batch_norm`). A call that
    stops before the averaging starts keeps its last weights.

    Parameters
    ----------
    start : float in [0, 1)
        The share of the epochs before averaging starts (``swa_start``).

    Attributes
    ----------
    n_averaged_ : int
        Epochs averaged in the last call.
    first_averaged_epoch_ : int
        1-based epoch, over the net's history, of the last call's first averaged
        epoch (averaged or not, if training stopped before it).
    """

    def __init__(self, start):
        self.start = start

    def on_train_begin(self, net, **kwargs):
        skipped = math.floor(self.start * net.max_epochs)
        self.first_averaged_epoch_ = len(net.history) + skipped + 1
        self.n_averaged_ = 0
        self.sums_ = None

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) < self.first_averaged_epoch_:
            return
        with torch.no_grad():
            weights = [p.detach() for p in net.module_.parameters()]
            # float64 sums, so that the mean of many epochs is exact to float32.
            dtype = torch.float32 if weights[0].device.type == "mps" else torch.float64
            if self.sums_ is None:
                self.sums_ = [w.to(dtype, copy=True) for w in weights]
            else:
                for total, w in zip(self.sums_, weights):
                    total.add_(w.to(dtype))
        self.n_averaged_ += 1

    def on_train_end(self, net, X=None, y=None, **kwargs):
        sums, self.sums_ = self.sums_, None
        if not self.n_averaged_:
            return
        with torch.no_grad():
            for parameter, total in zip(net.module_.parameters(), sums):
                parameter.copy_(total / self.n_averaged_)
        recompute_batch_norm(net, X, y)
