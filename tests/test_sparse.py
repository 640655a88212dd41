"""Sparse rows: batches and prediction chunks densified one at a time, as the dense path's."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import load_digits
from torch.utils.data import Subset

from skreg._data import TensorBatchIterator, TensorPairDataset
from skreg._sparse import (
    PREDICT_CHUNK_BYTES,
    SparseBatchIterator,
    SparseRowsDataset,
    as_csr_rows,
    batch_iterator,
    sparse_pair,
    sparse_row_chunks,
    sparse_training_data,
)
from skreg._weights import WeightedTarget


@pytest.fixture(scope="module")
def digits():
    """Handwritten digits (1797 x 64 pixels, about half of them zero) as CSR float32."""
    X, y = load_digits(return_X_y=True)
    return sp.csr_matrix((X / 16).astype(np.float32)), torch.from_numpy(y)


def both_iterators(X, y, **kwargs):
    dense = TensorBatchIterator(TensorPairDataset(torch.from_numpy(X.toarray()), y), **kwargs)
    return dense, SparseBatchIterator(SparseRowsDataset(X, y), **kwargs)


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("batch_size, merge", [(200, False), (256, True), (4000, False)])
def test_batches_are_those_of_the_same_rows_dense(digits, shuffle, batch_size, merge):
    X, y = digits
    # 1797 rows leave no single-row tail; 1793 = 7 * 256 + 1 leaves one to merge.
    if merge:
        X, y = X[:1793], y[:1793]
    dense, sparse = both_iterators(
        X, y, batch_size=batch_size, shuffle=shuffle, merge_single_row_tail=merge
    )
    assert len(sparse) == len(dense)
    for _ in range(2):  # two epochs: two permutations, drawn alike
        torch.manual_seed(0)
        dense_batches = list(dense)
        torch.manual_seed(0)
        sparse_batches = list(sparse)
        assert len(sparse_batches) == len(dense_batches) == len(dense)
        for (xd, yd), (xs, ys) in zip(dense_batches, sparse_batches):
            assert xs.dtype == torch.float32 and xs.shape == xd.shape
            assert torch.equal(xs, xd) and torch.equal(ys, yd)
    if merge:
        assert [len(xb) for xb, _ in sparse_batches][-1] == 257


def test_weighted_targets_follow_their_rows(digits):
    X, y = digits
    weights = torch.arange(len(y), dtype=torch.float32)
    iterator = SparseBatchIterator(
        SparseRowsDataset(X, WeightedTarget(y, weights)), batch_size=300, shuffle=True
    )
    for xb, yb in iterator:
        rows = yb.sample_weight.long().numpy()
        assert torch.equal(xb, torch.from_numpy(X[rows].toarray()))
        assert torch.equal(yb.target, y[rows])


def test_a_subset_is_gathered_once_and_stays_sparse(digits):
    X, y = digits
    rows = [7, 2, 1500]
    X_sub, y_sub = sparse_pair(Subset(SparseRowsDataset(X, y), rows))
    assert sp.issparse(X_sub) and X_sub.format == "csr"
    np.testing.assert_array_equal(X_sub.toarray(), X[rows].toarray())
    assert y_sub.tolist() == y[rows].tolist()
    batches = list(SparseBatchIterator(Subset(SparseRowsDataset(X, y), rows), batch_size=2))
    assert [len(xb) for xb, _ in batches] == [2, 1]


def test_the_iterator_is_chosen_by_the_data(digits):
    X, y = digits
    sparse = SparseRowsDataset(X, y)
    dense = TensorPairDataset(torch.from_numpy(X.toarray()), y)
    assert type(batch_iterator(sparse, batch_size=10)) is SparseBatchIterator
    assert type(batch_iterator(Subset(sparse, [0, 1]), batch_size=10)) is SparseBatchIterator
    assert type(batch_iterator(dense, batch_size=10)) is TensorBatchIterator
    assert type(batch_iterator(Subset(dense, [0, 1]), batch_size=10)) is TensorBatchIterator
    with pytest.raises(TypeError, match="needs sparse rows"):
        SparseBatchIterator(dense, batch_size=10)


def test_dataset_indexing_densifies_the_rows_it_selects(digits):
    X, y = digits
    dataset = SparseRowsDataset(X, y)
    assert len(dataset) == X.shape[0]
    row, label = dataset[5]
    assert row.shape == (64,) and torch.equal(row, torch.from_numpy(X[5].toarray()[0]))
    assert label == y[5]
    rows, labels = dataset[np.array([3, 1])]
    assert rows.shape == (2, 64) and labels.tolist() == [y[3], y[1]]
    assert SparseRowsDataset(X)[0][1].shape == ()


@pytest.mark.parametrize("kind", ["csc_matrix", "csr_array", "csc_array", "float64", "unsorted"])
def test_conversion_to_csr_float32_leaves_the_input_as_it_was(digits, kind):
    X, _ = digits
    if kind == "float64":
        given = X.astype(np.float64)
    elif kind == "unsorted":
        # Column indices in reverse order within each row: valid CSR, not canonical.
        given = X.copy()
        for i in range(given.shape[0]):
            start, stop = given.indptr[i], given.indptr[i + 1]
            given.indices[start:stop] = given.indices[start:stop][::-1].copy()
            given.data[start:stop] = given.data[start:stop][::-1].copy()
        given.has_sorted_indices = False
    else:
        given = getattr(sp, kind)(X)
    arrays = [a.copy() for a in (given.data, given.indices, given.indptr)]
    converted = as_csr_rows(given)
    assert type(converted) is sp.csr_matrix and converted.dtype == np.float32
    np.testing.assert_array_equal(converted.toarray(), X.toarray())
    np.testing.assert_array_equal(converted[np.array([4, 0])].toarray(), X[[4, 0]].toarray())
    for before, after in zip(arrays, (given.data, given.indices, given.indptr)):
        np.testing.assert_array_equal(before, after)
    if kind == "unsorted":
        assert not given.has_sorted_indices


def test_training_data_keeps_the_rows_sparse_and_the_targets_on_the_device(digits):
    X, y = digits
    target = y.numpy().copy()
    weights = np.linspace(1, 3, len(target))
    train, valid = np.arange(0, len(target), 2), np.arange(1, len(target), 2)
    data, y_t, valid_data = sparse_training_data(
        X.tocsc(), target, weights, torch.device("cpu"), train, valid
    )
    assert isinstance(data, SparseRowsDataset) and data.X.format == "csr"
    np.testing.assert_array_equal(data.X.toarray(), X[train].toarray())
    assert torch.equal(y_t, y[train]) and torch.equal(valid_data.y.target, y[valid])
    np.testing.assert_array_equal(valid_data.X.toarray(), X[valid].toarray())
    # Normalized over all rows before the split, as for dense X.
    normalized = (weights / weights.mean()).astype(np.float32)
    assert data.y.sample_weight.dtype == torch.float32
    np.testing.assert_array_equal(data.y.sample_weight.numpy(), normalized[train])
    np.testing.assert_array_equal(valid_data.y.sample_weight.numpy(), normalized[valid])
    plain, plain_y, no_valid = sparse_training_data(X, target, None, torch.device("cpu"))
    assert plain.y is plain_y and torch.equal(plain_y, y) and no_valid is None


def test_prediction_chunks_cover_every_row_and_bound_their_size():
    rng = np.random.RandomState(0)
    narrow = sp.random(1000, 30, density=0.1, format="csr", dtype=np.float32, random_state=rng)
    chunks = list(sparse_row_chunks(narrow, "cpu", 300))
    assert [len(c) for c in chunks] == [300, 300, 300, 100]
    np.testing.assert_array_equal(torch.cat(chunks).numpy(), narrow.toarray())
    # A row so wide that max_rows dense rows would pass the byte bound.
    width = PREDICT_CHUNK_BYTES // (4 * 50)
    wide = sp.csr_matrix(([2.0], ([3], [width - 1])), shape=(120, width), dtype=np.float32)
    sizes = []
    for chunk in sparse_row_chunks(wide, "cpu", 300):
        sizes.append(len(chunk))
        assert chunk.numel() * 4 <= PREDICT_CHUNK_BYTES
        if len(sizes) == 1:
            assert chunk[3, width - 1] == 2.0
        del chunk
    assert sizes == [50, 50, 20]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_batches_are_densified_onto_the_gpu_in_the_dense_order(digits):
    X, y = digits
    y = y.cuda()
    dense = TensorBatchIterator(
        TensorPairDataset(torch.from_numpy(X.toarray()).cuda(), y), batch_size=256, shuffle=True
    )
    sparse = SparseBatchIterator(
        SparseRowsDataset(X, y), batch_size=256, shuffle=True, device="cuda"
    )
    torch.manual_seed(0)
    dense_batches = list(dense)
    torch.manual_seed(0)
    sparse_batches = list(sparse)
    for (xd, yd), (xs, ys) in zip(dense_batches, sparse_batches):
        assert xs.is_cuda and ys.is_cuda
        assert torch.equal(xs, xd) and torch.equal(ys, yd)
