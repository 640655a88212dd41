"""In-memory tensors and the batch iterator that feeds skorch without per-row access.

skorch's default data path indexes a ``Dataset`` one row at a time and collates
the rows into batches. For tabular data held in memory that is the dominant
cost of an epoch, so skreg keeps whole tensors and slices batches out of them.
"""

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

# Share of the device's free memory the training data may take when it is
# placed there whole; the rest is left to activations, gradients and the
# optimizer state.
DEVICE_DATA_FRACTION = 0.5


def data_device(n_bytes, device, free_bytes=None):
    """Where the training tensors live: on ``device`` when they fit there, else on the host.

    On a GPU, data that takes at most ``DEVICE_DATA_FRACTION`` of the free
    device memory is copied there once per fit, and every batch after is a
    slice on the device. Larger data stays in host memory, and
    :class:`TensorBatchIterator` copies each batch through pinned memory.

    Parameters
    ----------
    n_bytes : int
        Size of the training tensors.
    device : torch.device
        The device the network trains on.
    free_bytes : int, optional
        Free memory of ``device``; queried from CUDA when omitted.
    """
    if device.type != "cuda":
        return device
    if free_bytes is None:
        free_bytes, _ = torch.cuda.mem_get_info(device)
    return device if n_bytes <= DEVICE_DATA_FRACTION * free_bytes else torch.device("cpu")


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

    With ``shuffle=True`` every pass draws one permutation (from ``generator``,
    which the net reseeds at each epoch) and batches are index gathers; without
    it, batches are views. A trailing batch of one row is merged into the batch
    before it when ``merge_single_row_tail`` is set, since batch normalization
    cannot normalize a single row.

    When the tensors sit in host memory but ``device`` is a GPU (data too large
    for the device, see :func:`data_device`), each batch is gathered into
    pinned memory and copied with ``non_blocking=True``, so the copy overlaps
    the work already queued on the GPU.

    Parameters
    ----------
    dataset : TensorPairDataset or Subset of one
    batch_size : int
    shuffle : bool, default=False
    merge_single_row_tail : bool, default=False
    device : str or torch.device, optional
        Where batches are needed; by default where the tensors are.
    generator : torch.Generator, optional
        Draws the permutations; it must be on the device of the tensors. None
        draws them from torch's global generator, as torch's ``DataLoader`` does.
    """

    def __init__(
        self, dataset, batch_size, shuffle=False, merge_single_row_tail=False, device=None,
        generator=None,
    ):
        self.X, self.y = as_tensor_pair(dataset)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.merge_single_row_tail = merge_single_row_tail
        self.device = device
        self.generator = generator

    def _bounds(self):
        n = self.X.shape[0]  # also the rows of a sparse X, which has no len
        starts = list(range(0, n, self.batch_size))
        stops = starts[1:] + [n]
        if self.merge_single_row_tail and len(starts) > 1 and stops[-1] - starts[-1] == 1:
            starts.pop()
            stops.pop(-2)
        return zip(starts, stops)

    def __len__(self):
        return len(list(self._bounds()))

    def _host_to_device(self):
        """Whether batches are copied from host memory to a GPU one at a time."""
        if self.device is None or not isinstance(self.X, torch.Tensor):
            return False
        return torch.device(self.device).type == "cuda" and self.X.device.type == "cpu"

    def _pinned_copy(self, tensor, index):
        """``tensor[index]`` on ``self.device``, gathered into pinned host memory first."""
        if tensor is None:
            return None
        if isinstance(index, slice):
            rows = tensor[index]
        else:
            rows = torch.empty(
                (len(index), *tensor.shape[1:]), dtype=tensor.dtype, pin_memory=True
            )
            torch.index_select(tensor, 0, index, out=rows)
        if not rows.is_pinned():
            rows = rows.pin_memory()
        return rows.to(self.device, non_blocking=True)

    def order_device(self):
        """Where the permutation of an epoch is drawn: where the rows are."""
        return self.X.device

    def __iter__(self):
        X, y = self.X, self.y
        if self._host_to_device():
            for index in self._indices(len(X), X.device):
                yield self._pinned_copy(X, index), self._pinned_copy(y, index)
            return
        for index in self._indices(len(X), getattr(X, "device", None)):
            yield X[index], (None if y is None else y[index])

    def _indices(self, n, device):
        """Row index of each batch: slices of one permutation, or plain slices in order."""
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator, device=device)
            for start, stop in self._bounds():
                yield order[start:stop]
        else:
            for start, stop in self._bounds():
                yield slice(start, stop)
