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


def _penalty_terms(flat, buffer, l1, l2):
    """The sums that make up the penalty of the flattened weights ``flat``, and its gradient.

    With both strengths nonzero this is four passes over the weights, two of
    which only read them:

    1. ``s = sign(w)``, into ``buffer``;
    2. ``sum(|w|) = w . s``;
    3. ``sum(w ** 2) = w . w``;
    4. ``g = (l1 / a) s + (l2 / a) w`` in place of ``s``, with ``a`` the larger
       strength, so that ``a g = l1 sign(w) + l2 w`` is the gradient.

    Dividing by the larger strength keeps every factor at most 1, so nothing
    overflows whatever the two strengths; when one is many orders of magnitude
    above the other, the smaller term is below float32's resolution of the sum
    and is rounded away, as it would be in ``l1 * sign(w) + l2 * w``. The
    scales are returned rather than applied so that the caller can fold them
    into operations it runs anyway (adding the value to the data loss, adding
    the gradient to the weights' gradients): on a network of a few hundred
    thousand weights every operation costs a few microseconds, and the passes
    that write cost more than those that only read.

    Parameters
    ----------
    flat : 1-d tensor
        The weights, flattened and concatenated; not modified.
    buffer : 1-d tensor
        Scratch space of ``flat``'s shape, overwritten.
    l1, l2 : float
        The strengths; at least one nonzero.

    Returns
    -------
    sums : list of (0-d tensor, float)
        The penalty is the sum of ``scale * total`` over its ``(total, scale)``
        pairs.
    gradient : 1-d tensor
        ``buffer``, or ``flat`` itself when ``l1`` is 0.
    gradient_scale : float
        The gradient of the penalty is ``gradient_scale * gradient``.
    """
    if not l1:
        return [(torch.dot(flat, flat), 0.5 * l2)], flat, l2
    torch.sign(flat, out=buffer)
    sums = [(torch.dot(flat, buffer), l1)]
    if not l2:
        return sums, buffer, l1
    sums.append((torch.dot(flat, flat), 0.5 * l2))
    if l1 >= l2:
        torch.add(buffer, flat, alpha=l2 / l1, out=buffer)
        return sums, buffer, l1
    torch.add(flat, buffer, alpha=l1 / l2, out=buffer)
    return sums, buffer, l2


def _scaled_sum(sums, start=None):
    """``start`` (a 0-d tensor, or nothing) plus ``scale * total`` for each pair of ``sums``."""
    (total, scale), rest = sums[0], sums[1:]
    value = total * scale if start is None else torch.add(start, total, alpha=scale)
    for total, scale in rest:
        value = torch.add(value, total, alpha=scale)
    return value


def _split(flat, shapes):
    """Views of ``flat`` with the given shapes, in order."""
    parts = flat.split([shape.numel() for shape in shapes])
    return [part.view(shape) for part, shape in zip(parts, shapes)]


class InPlacePenalty:
    """Add the penalty's gradient to the gradients of a fixed list of weights, step after step.

    A training step calls this after every backward pass, so it is written for
    few passes over the weights' memory and no allocation: the weights are
    read as one flat buffer, the gradient is built in a second one
    (:func:`_penalty_terms`), and the views of both shaped as the weights are
    made once. With both strengths nonzero a step is six passes over all the
    weights together: a copy into the flat buffer, the four of
    :func:`_penalty_terms`, and the addition to the weights' gradients in one
    vectorized call.

    :meth:`share_storage` saves the copy: the weights then live in the flat
    buffer itself, as views of it, until :meth:`release`. A step checks that
    they still do (a weight whose ``.data`` was replaced, or a module moved to
    another device, no longer does) and copies when they do not, so the value
    and the gradient are always those of the current weights.

    Parameters
    ----------
    weights : list of torch.Tensor
        The penalized weights (see :func:`penalized_weights`), all on one
        device and of one dtype.
    """

    def __init__(self, weights):
        self.weights = list(weights)
        total = sum(w.numel() for w in self.weights)
        with torch.no_grad():
            self.flat = self.weights[0].new_empty(total)
            self.gradient = self.weights[0].new_empty(total)
        shapes = [w.shape for w in self.weights]
        self.flat_parts = _split(self.flat, shapes)
        self.gradient_parts = _split(self.gradient, shapes)
        self._shared_pointers = None

    def share_storage(self):
        """Make the weights views of the flat buffer, keeping their values.

        This is what :func:`torch.nn.utils.vector_to_parameters` does to
        parameters: the ``Parameter`` objects stay the same (an optimizer's
        state stays theirs), only the memory behind them changes. Tensors that
        are disjoint views of one storage save as usual with ``torch.save`` and
        with ``safetensors`` 0.4 or later.
        """
        with torch.no_grad():
            torch._foreach_copy_(self.flat_parts, [w.data for w in self.weights])
            for weight, part in zip(self.weights, self.flat_parts):
                weight.data = part
        self._shared_pointers = self._pointers()

    def release(self):
        """Give every weight that is still a view of the flat buffer memory of its own."""
        if self._shared_pointers is None:
            return
        for weight, pointer in zip(self.weights, self._shared_pointers):
            if weight.data_ptr() == pointer:
                weight.data = weight.data.clone()
        self._shared_pointers = None

    @property
    def shares_storage(self):
        """Whether :meth:`share_storage` was called and :meth:`release` not since."""
        return self._shared_pointers is not None

    def _pointers(self):
        return [w.data_ptr() for w in self.weights]

    def __call__(self, l1, l2, loss=None):
        """Add ``l1 * sign(w) + l2 * w`` to each ``w.grad`` in place; return the penalty.

        The value covers every weight; a frozen weight (no ``.grad``, e.g.
        ``requires_grad=False``) gets no gradient, as through autograd. At
        least one of ``l1``, ``l2`` must be nonzero.

        Parameters
        ----------
        l1, l2 : float
            The strengths.
        loss : 0-d tensor, optional
            A data loss, not differentiated through. When given, the return
            value is ``loss`` plus the penalty, added by the operations that
            scale the penalty's sums.
        """
        weights = self.weights
        with torch.no_grad():
            if self._shared_pointers is None or self._shared_pointers != self._pointers():
                torch._foreach_copy_(self.flat_parts, weights)
            sums, gradient, alpha = _penalty_terms(self.flat, self.gradient, l1, l2)
            value = _scaled_sum(sums, loss)
            parts = self.gradient_parts if gradient is self.gradient else self.flat_parts
            grads = [w.grad for w in weights]
            if any(g is None for g in grads):
                pairs = [(g, part) for g, part in zip(grads, parts) if g is not None]
                grads, parts = [g for g, _ in pairs], [part for _, part in pairs]
            if grads:
                torch._foreach_add_(grads, parts, alpha=alpha)
        return value


def apply_penalty_(weights, l1, l2):
    """Add the penalty's gradient to the weights' ``.grad`` in place; return its value.

    This touches the weights' memory fewer times than a backward pass through
    :func:`weight_penalty`, which allocates the penalty's gradients and then has
    autograd sum them with the data gradients. A training loop keeps one
    :class:`InPlacePenalty` instead, which reuses its buffers.
    """
    return InPlacePenalty(weights)(l1, l2)


class _WeightPenalty(torch.autograd.Function):
    """``l1 * sum(|w|) + l2 / 2 * sum(w ** 2)`` as one autograd node over all the weights.

    Written term by term, the penalty costs two kernels per weight and per term
    forward and again backward, which for a small network approaches the cost
    of the step itself. Here the forward pass computes the value and the
    gradient ``l1 * sign(w) + l2 * w`` together over the flattened weights
    (:func:`_penalty_terms`, as the training step's :class:`InPlacePenalty`)
    and the backward pass only scales that gradient, instead of deriving it
    through autograd.
    """

    @staticmethod
    def forward(ctx, l1, l2, *weights):
        flat = torch.cat([w.detach().reshape(-1) for w in weights])
        sums, gradient, scale = _penalty_terms(flat, torch.empty_like(flat), l1, l2)
        # Intermediate results, not inputs or outputs: kept on ctx, not saved.
        ctx.gradient, ctx.scale, ctx.shapes = gradient, scale, [w.shape for w in weights]
        return _scaled_sum(sums)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        gradient = ctx.gradient * (grad_output * ctx.scale)
        return (None, None, *_split(gradient, ctx.shapes))


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
