"""In-memory tensors and the batch iterator that feeds skorch without per-row access.

skorch's default data path indexes a ``Dataset`` one row at a time and collates
the rows into batches. For tabular data held in memory that is the dominant
cost of an epoch, so skreg keeps whole tensors and slices batches out of them.
"""

import numpy as np
import torch
from torch.utils.data import Dataset, Subset


class TensorPairDataset(Dataset):
    """Whole-array ``X`` (and optional ``y``) tensors; indexing with an index array slices both."""

    def __init__(self, X, y=None):
        self.X = X
        self.y = y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, index):
        if self.y is None:
            return self.X[index], torch.zeros(())
        return self.X[index], self.y[index]


def as_tensor_pair(dataset):
    """Return ``(X, y)`` tensors for a :class:`TensorPairDataset` or a ``Subset`` of one.

    A ``Subset`` (what skorch's ``ValidSplit`` returns) is gathered once here, so
    that every epoch after reads contiguous memory.
    """
    if isinstance(dataset, Subset):
        X, y = as_tensor_pair(dataset.dataset)
        index = torch.as_tensor(np.asarray(dataset.indices), dtype=torch.long, device=X.device)
        return X[index], (None if y is None else y[index])
    if isinstance(dataset, TensorPairDataset):
        return dataset.X, dataset.y
    raise TypeError(f"skreg's batch iterator needs tensors, got {type(dataset).__name__}.")


class TensorBatchIterator:
    """Iterate over ``(X_batch, y_batch)`` slices of in-memory tensors.

    With ``shuffle=True`` every pass draws one permutation (from torch's global
    generator, which the estimator seeds) and batches are index gathers; without
    it, batches are views. A trailing batch of one row is merged into the batch
    before it when ``merge_single_row_tail`` is set, since batch normalization
    cannot normalize a single row.

    Parameters
    ----------
    dataset : TensorPairDataset or Subset of one
    batch_size : int
    shuffle : bool, default=False
    merge_single_row_tail : bool, default=False
    """

    def __init__(self, dataset, batch_size, shuffle=False, merge_single_row_tail=False):
        self.X, self.y = as_tensor_pair(dataset)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.merge_single_row_tail = merge_single_row_tail

    def _bounds(self):
        n = len(self.X)
        starts = list(range(0, n, self.batch_size))
        stops = starts[1:] + [n]
        if self.merge_single_row_tail and len(starts) > 1 and stops[-1] - starts[-1] == 1:
            starts.pop()
            stops.pop(-2)
        return zip(starts, stops)

    def __len__(self):
        return len(list(self._bounds()))

    def __iter__(self):
        X, y = self.X, self.y
        if self.shuffle:
            order = torch.randperm(len(X), device=X.device)
            for start, stop in self._bounds():
                index = order[start:stop]
                yield X[index], (None if y is None else y[index])
        else:
            for start, stop in self._bounds():
                yield X[start:stop], (None if y is None else y[start:stop])
