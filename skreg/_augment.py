"""Data augmentation of training batches: Gaussian input noise and mixup.

Augmentation changes the batches that the optimizer sees and nothing else:
validation batches and prediction never pass through it.
"""

import torch
from torch.nn import functional as F

from ._random import symmetric_beta
from ._weights import WeightedTarget, split_target


class BatchAugmentation:
    """Turn a training batch ``(X, y)`` into an augmented one.

    ``augmentation(X, y, generator)`` takes its random draws from ``generator``
    (on the batch's device; torch's global generator when it is None), which
    the net reseeds at each epoch, so augmented fits are reproducible with an
    integer ``random_state``.

    Parameters
    ----------
    input_noise : float, default=0.0
        Standard deviation of Gaussian noise added to every input value.
    mixup_alpha : float, default=0.0
        With ``mixup_alpha > 0``, each row is replaced by
        ``lam * row + (1 - lam) * partner`` where ``partner`` is another row of
        the batch (a random permutation) and ``lam ~ Beta(alpha, alpha)`` is
        drawn per row. Targets (and sample weights) are mixed the same way.
    n_classes : int or None, default=None
        For classification: class indices are one-hot encoded to this many
        columns before mixing, so the loss sees soft targets. None for
        regression, whose (standardized) targets are mixed as they are.
    """

    def __init__(self, input_noise=0.0, mixup_alpha=0.0, n_classes=None):
        self.input_noise = input_noise
        self.mixup_alpha = mixup_alpha
        self.n_classes = n_classes

    def __call__(self, X, y, generator=None):
        if self.input_noise:
            # The noise is drawn into a new tensor and X added to it: X itself is not written.
            noise = torch.empty_like(X).normal_(0.0, self.input_noise, generator=generator)
            X = noise.add_(X)
        if self.mixup_alpha:
            X, y = self._mixup(X, y, generator)
        return X, y

    def _mixup(self, X, y, generator):
        target, weight = split_target(y)
        if self.n_classes is not None:
            target = F.one_hot(target, self.n_classes).to(X.dtype)
        lam = symmetric_beta(float(self.mixup_alpha), len(X), generator, X.device, X.dtype)
        partner = torch.randperm(len(X), generator=generator, device=X.device)
        X = mix(X, X[partner], lam)
        target = mix(target, target[partner], lam)
        if weight is None:
            return X, target
        return X, WeightedTarget(target, mix(weight, weight[partner], lam))


def mix(a, b, lam):
    """Row-wise ``lam * a + (1 - lam) * b`` for ``lam`` of shape (n_rows,)."""
    lam = lam.reshape((-1,) + (1,) * (a.ndim - 1))
    return lam * a + (1 - lam) * b


class AugmentedIterator:
    """Wrap a batch iterator so that every batch it yields is augmented.

    Parameters
    ----------
    iterator : iterable of (X, y) batches, with ``len``
    augmentation : callable
        ``augmentation(X, y, generator) -> (X, y)``, e.g. :class:`BatchAugmentation`.
    generator : torch.Generator, optional
        Passed to ``augmentation`` with every batch.
    """

    def __init__(self, iterator, augmentation, generator=None):
        self.iterator = iterator
        self.augmentation = augmentation
        self.generator = generator

    def __len__(self):
        return len(self.iterator)

    def __iter__(self):
        for X, y in self.iterator:
            yield self.augmentation(X, y, self.generator)
