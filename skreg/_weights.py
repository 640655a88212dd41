"""Sample weights: checking them, and carrying them through batching beside the targets."""

import numpy as np
from sklearn.utils.validation import _check_sample_weight


def check_sample_weight(sample_weight, X):
    """Return ``sample_weight`` as a float64 array of shape (n_samples,), or None.

    ``None`` stays ``None`` so that unweighted fits keep their plain data path.
    Weights must be finite, non-negative and not all zero; the array passed in
    is never modified.

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,), scalar or None
    X : ndarray of shape (n_samples, n_features)
        The validated training data.
    """
    if sample_weight is None:
        return None
    # Kept at the caller's scale: solver="lbfgs" divides alpha by their sum, as sklearn
    # does. Means over them divide by the largest first (normalized_weights).
    sample_weight = _check_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True, copy=True
    )
    # scikit-learn 1.7 lets all-zero weights through; they would divide by zero further on.
    if not np.any(sample_weight):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sample_weight


def normalized_weights(sample_weight):
    """Rescale weights to mean one, so that the weighted loss keeps the scale of the unweighted one.

    With weights of mean one, the weighted mean loss of a random batch,
    ``mean(w_i * loss_i)``, is an unbiased estimate of the weighted mean loss of
    the whole training set, whatever the batch size, and the strength of the
    weight penalties does not depend on the scale of the weights. The weights are
    divided by the largest first, so that their mean cannot overflow.
    """
    scaled = sample_weight / sample_weight.max()
    return scaled / scaled.mean()


class WeightedTarget:
    """Training targets and their sample weights, indexed together.

    skreg's batch iterator slices the dataset's targets with ``y[index]``; with
    the targets wrapped in this container the weights follow every row into its
    batch (and into a validation split), while the data path stays unaware of
    them. The net's loss unwraps it.

    Parameters
    ----------
    target : torch.Tensor of shape (n_samples,) or (n_samples, n_outputs)
    sample_weight : torch.Tensor of shape (n_samples,)
    """

    def __init__(self, target, sample_weight):
        if len(target) != len(sample_weight):
            raise ValueError(
                f"{len(target)} targets but {len(sample_weight)} sample weights were given."
            )
        self.target = target
        self.sample_weight = sample_weight

    def __len__(self):
        return len(self.target)

    def __getitem__(self, index):
        return WeightedTarget(self.target[index], self.sample_weight[index])


def split_target(y):
    """Return ``(target, sample_weight)`` for a batch's ``y`` (the weight None if unweighted)."""
    if isinstance(y, WeightedTarget):
        return y.target, y.sample_weight
    return y, None
