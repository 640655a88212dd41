"""Sparse ``X``: the rows stay in CSR form and are densified one batch or chunk at a time.

The network's first layer needs dense rows, but the dense form of a sparse matrix may not fit in
memory. So a sparse ``X`` is kept as a float32 CSR matrix (whose row slicing is cheap), and each
training batch and each prediction chunk is sliced out of it and densified on its own.

The training batches and their order are those of :class:`skreg._data.TensorBatchIterator` on
the same rows held dense (the same permutation, the same bounds), so a fit on sparse ``X``
trains the same network as a fit on ``X.toarray()``. The dense path is left as it is: a fit
picks the sparse dataset and iterator only when its ``X`` is sparse.
"""

from numbers import Integral

import numpy as np
import scipy.sparse as sp
import torch
from torch.utils.data import Dataset, Subset

from ._data import TensorBatchIterator
from ._weights import WeightedTarget, normalized_weights, split_target

# Sparse formats that validation passes through as they are; sklearn converts the others
# (COO, LIL, DOK, BSR, DIA) to the first, CSR.
ACCEPTED_SPARSE = ["csr", "csc"]

# Most bytes of one densified prediction chunk (two are alive while the caller's loop holds
# the last one and the next is made). Up to 512 features a chunk keeps the rows of a dense
# chunk (PREDICT_CHUNK_ROWS), so that Monte Carlo dropout, whose masks are drawn chunk by
# chunk, draws the same masks as for the same X dense; wider data takes fewer rows a chunk.
PREDICT_CHUNK_BYTES = 128 * 2**20


def as_csr_rows(X):
    """Return a validated sparse ``X`` as a float32 ``csr_matrix``, without modifying ``X``.

    CSC input and the ``scipy.sparse.*_array`` classes are converted once; a float32
    ``csr_matrix`` comes back as a new matrix object over the same arrays, which nothing in
    skreg writes to (row slicing and ``toarray`` make new arrays, even for unsorted or
    duplicate indices).
    """
    return sp.csr_matrix(X, dtype=np.float32)


def dense_rows(rows, device=None):
    """Return the sparse ``rows`` as a dense float32 tensor on ``device`` (default: the host).

    For a GPU the rows are densified straight into pinned host memory and copied with
    ``non_blocking=True``, so the copy overlaps the work already queued there (as the
    host-to-device path of :class:`skreg._data.TensorBatchIterator` does).
    """
    device = torch.device("cpu") if device is None else torch.device(device)
    if device.type == "cuda":
        buffer = torch.empty(rows.shape, dtype=torch.float32, pin_memory=True)
        rows.toarray(out=buffer.numpy())
        return buffer.to(device, non_blocking=True)
    return torch.from_numpy(rows.toarray()).to(device)


class SparseRowsDataset(Dataset):
    """A float32 CSR ``X`` and optional targets ``y``; indexing densifies the selected rows.

    Parameters
    ----------
    X : scipy.sparse.csr_matrix of shape (n_samples, n_features), float32
        See :func:`as_csr_rows`.
    y : torch.Tensor, skreg._weights.WeightedTarget or None, default=None
        Indexed with torch index tensors on the device ``y`` lives on.
    """

    def __init__(self, X, y=None):
        self.X = X
        self.y = y

    def __len__(self):
        return self.X.shape[0]

    def __getitem__(self, index):
        rows = dense_rows(self.X[index])
        if isinstance(index, Integral):
            rows = rows[0]  # one row, as a dense tensor's X[i]
        return rows, (torch.zeros(()) if self.y is None else self.y[index])


def sparse_training_data(X, target, weights, device, train_rows=None, valid_rows=None):
    """Return the training data of a fit on sparse ``X`` (and early stopping's validation data).

    The rows stay in host memory as CSR; the targets (and the normalized weights, carried
    beside them in a :class:`skreg._weights.WeightedTarget`) go to ``device``, where each
    batch's rows are sent. The weights are normalized over all rows before the split, as
    for dense ``X``.

    Parameters
    ----------
    X : sparse matrix or array of shape (n_samples, n_features)
        The validated training data.
    target : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        The encoded targets.
    weights : ndarray of shape (n_samples,) or None
        The training weights, or None for an unweighted fit.
    device : torch.device
    train_rows, valid_rows : ndarray of int or None, default=None
        Early stopping's split; None trains on every row and holds none out.

    Returns
    -------
    train_data : SparseRowsDataset
    train_y : torch.Tensor
        The training targets alone.
    valid_data : SparseRowsDataset or None
    """
    X = as_csr_rows(X)
    if weights is not None:
        weights = normalized_weights(weights).astype(np.float32)

    def rows_dataset(rows):
        X_part = X if rows is None else X[rows]
        y_part = target if rows is None else target[rows]
        y_t = torch.from_numpy(np.ascontiguousarray(y_part)).to(device)
        if weights is None:
            return SparseRowsDataset(X_part, y_t), y_t
        w_part = weights if rows is None else weights[rows]
        w_t = torch.from_numpy(np.ascontiguousarray(w_part)).to(device)
        return SparseRowsDataset(X_part, WeightedTarget(y_t, w_t)), y_t

    train_data, train_y = rows_dataset(train_rows)
    valid_data = None if valid_rows is None else rows_dataset(valid_rows)[0]
    return train_data, train_y, valid_data


def sparse_pair(dataset):
    """Return ``(X, y)`` of a :class:`SparseRowsDataset` or of a ``Subset`` of one.

    A ``Subset`` (what skorch's ``ValidSplit`` returns, for a net given that split) is
    gathered once here, staying sparse, so that every epoch after slices rows of one CSR
    matrix.
    """
    if isinstance(dataset, Subset):
        X, y = sparse_pair(dataset.dataset)
        index = np.asarray(dataset.indices)
        if y is not None:
            y = y[torch.as_tensor(index, dtype=torch.long, device=_rows_device(y))]
        return X[index], y
    if isinstance(dataset, SparseRowsDataset):
        return dataset.X, dataset.y
    raise TypeError(
        f"skreg's sparse batch iterator needs sparse rows, got {type(dataset).__name__}."
    )


def _rows_device(y):
    """The device of the targets ``y`` (a tensor or a WeightedTarget); the host without ``y``."""
    target, _ = split_target(y)
    return target.device if isinstance(target, torch.Tensor) else torch.device("cpu")


class SparseBatchIterator(TensorBatchIterator):
    """:class:`skreg._data.TensorBatchIterator` over sparse rows, densifying each batch.

    The batch bounds and the shuffled order are the dense iterator's: the permutation is
    drawn as :meth:`TensorBatchIterator._indices` draws it, on the device of the targets (the
    training device, see :func:`sparse_training_data`), where dense data that fits there
    would draw it too. The targets are indexed where they are; each batch's rows are sliced
    out of the CSR matrix and densified onto ``device``.

    Parameters
    ----------
    dataset : SparseRowsDataset or Subset of one
    batch_size : int
    shuffle : bool, default=False
    merge_single_row_tail : bool, default=False
    device : str or torch.device, optional
        Where batches are needed; by default the host.
    generator : torch.Generator, optional
        Draws the permutations, as for :class:`skreg._data.TensorBatchIterator`.
    """

    def __init__(
        self, dataset, batch_size, shuffle=False, merge_single_row_tail=False, device=None,
        generator=None,
    ):
        self.X, self.y = sparse_pair(dataset)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.merge_single_row_tail = merge_single_row_tail
        self.device = device
        self.generator = generator

    def order_device(self):
        """Sparse rows are sliced on the host, but ordered where their targets live."""
        return _rows_device(self.y)

    def __iter__(self):
        X, y = self.X, self.y
        if not self.shuffle:
            for start, stop in self._bounds():
                yield dense_rows(X[start:stop], self.device), (None if y is None else y[start:stop])
            return
        # The fit's generator, as the dense iterator draws its order (see _data.py).
        order = torch.randperm(X.shape[0], generator=self.generator, device=self.order_device())
        # One copy of the order to the host per epoch, not a device sync per batch.
        host_order = order.cpu().numpy()
        for start, stop in self._bounds():
            rows = dense_rows(X[host_order[start:stop]], self.device)
            yield rows, (None if y is None else y[order[start:stop]])


def batch_iterator(dataset, **kwargs):
    """The training or validation iterator of ``dataset``, chosen once per fit.

    skorch makes the iterators once per call to ``fit`` or ``partial_fit``; this picks
    :class:`SparseBatchIterator` for sparse rows and the dense fast path,
    :class:`skreg._data.TensorBatchIterator`, for everything else.
    """
    rows = dataset.dataset if isinstance(dataset, Subset) else dataset
    if isinstance(rows, SparseRowsDataset):
        return SparseBatchIterator(dataset, **kwargs)
    return TensorBatchIterator(dataset, **kwargs)


def sparse_row_chunks(X, device, max_rows):
    """Yield sparse ``X`` as dense device tensors of at most ``max_rows`` rows each.

    Fewer rows where ``max_rows`` dense rows would take more than ``PREDICT_CHUNK_BYTES``.
    """
    X = as_csr_rows(X)
    row_bytes = 4 * max(X.shape[1], 1)
    rows = max(1, min(max_rows, PREDICT_CHUNK_BYTES // row_bytes))
    for start in range(0, X.shape[0], rows):
        yield dense_rows(X[start : start + rows], device)
