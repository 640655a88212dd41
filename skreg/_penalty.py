"""Which parameters are penalized, and the L1/L2 penalty itself."""

import torch


def is_penalized(parameter):
    """Whether ``parameter`` is a weight matrix: two or more dimensions.

    Biases and batch-norm scales and shifts are one-dimensional and so are never
    penalized (nor decayed), which matches the usual definition of weight penalties.
    """
    return parameter.ndim >= 2


def penalized_weights(module):
    """Return the weight matrices of ``module`` (see :func:`is_penalized`)."""
    return [p for p in module.parameters() if is_penalized(p)]


def weight_penalty(weights, l1, l2):
    """Return ``l1 * sum(|w|) + l2 / 2 * sum(w ** 2)`` over all ``weights``.

    The L2 term is halved so that its gradient is ``l2 * w``: with plain SGD,
    ``l2`` then equals torch's ``weight_decay``.
    """
    penalty = weights[0].new_zeros(())
    if l1:
        penalty = penalty + l1 * torch.stack([w.abs().sum() for w in weights]).sum()
    if l2:
        penalty = penalty + (0.5 * l2) * torch.stack([(w * w).sum() for w in weights]).sum()
    return penalty
