"""Which parameters are penalized, and the L1/L2 penalty itself."""

import torch
from torch.autograd.function import once_differentiable


def is_penalized(parameter):
    """Whether ``parameter`` is a weight matrix: two or more dimensions.

    Biases and batch-norm scales and shifts are one-dimensional and so are never
    penalized (nor decayed), which matches the usual definition of weight penalties.
    """
    return parameter.ndim >= 2


def penalized_weights(module):
    """Return the weight matrices of ``module`` (see :func:`is_penalized`)."""
    return [p for p in module.parameters() if is_penalized(p)]


def penalty_value(weights, l1, l2):
    """``l1 * sum(|w|) + l2 / 2 * sum(w ** 2)`` as a tensor outside autograd."""
    with torch.no_grad():
        penalty = weights[0].new_zeros(())
        if l1:
            penalty = penalty + l1 * torch.stack([w.abs().sum() for w in weights]).sum()
        if l2:
            squares = torch.stack(torch._foreach_norm(weights, 2)).square().sum()
            penalty = penalty + (0.5 * l2) * squares
    return penalty


def add_penalty_gradient_(weights, l1, l2):
    """Add the penalty's gradient ``l1 * sign(w) + l2 * w`` to ``w.grad`` in place.

    This touches each weight's memory fewer times than a backward pass through
    :func:`weight_penalty`, which allocates the penalty's gradients and then
    sums them with the data gradients.
    """
    # A frozen weight (requires_grad=False) gets no gradient, as through autograd.
    weights = [w for w in weights if w.grad is not None]
    if not weights:
        return
    with torch.no_grad():
        grads = [w.grad for w in weights]
        if l2:
            torch._foreach_add_(grads, weights, alpha=l2)
        if l1:
            torch._foreach_add_(grads, torch._foreach_sign(weights), alpha=l1)


class _WeightPenalty(torch.autograd.Function):
    """``l1 * sum(|w|) + l2 / 2 * sum(w ** 2)`` with both passes vectorized over the weights.

    Written term by term, the penalty costs two kernels per weight and per term
    forward and again backward, which for a small network approaches the cost
    of the step itself. Here the L2 sum and the whole backward pass use
    ``torch._foreach_*`` ops over the list (``_foreach_norm`` with ``ord=1`` is
    slower on CPU than ``abs().sum()``, so the L1 sum stays per weight), and the
    gradient ``l1 * sign(w) + l2 * w`` is written directly instead of being
    derived through autograd.
    """

    @staticmethod
    def forward(ctx, l1, l2, *weights):
        ctx.l1, ctx.l2 = l1, l2
        ctx.save_for_backward(*weights)
        return penalty_value(weights, l1, l2)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        weights = ctx.saved_tensors
        if ctx.l2:
            grads = torch._foreach_mul(weights, grad_output * ctx.l2)
        else:
            grads = torch._foreach_mul(weights, 0.0)
        if ctx.l1:
            signs = torch._foreach_sign(weights)
            torch._foreach_mul_(signs, grad_output * ctx.l1)
            torch._foreach_add_(grads, signs)
        return (None, None, *grads)


def weight_penalty(weights, l1, l2):
    """Return ``l1 * sum(|w|) + l2 / 2 * sum(w ** 2)`` over all ``weights``.

    The L2 term is halved so that its gradient is ``l2 * w``: with plain SGD,
    ``l2`` then equals torch's ``weight_decay``. The L1 gradient at ``w = 0``
    is 0, as torch's ``abs``. Both passes are vectorized over ``weights``.
    """
    weights = list(weights)
    if not (l1 or l2):
        return weights[0].new_zeros(())
    return _WeightPenalty.apply(float(l1), float(l2), *weights)
