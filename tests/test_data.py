import torch
from torch.utils.data import Subset

from skreg._data import TensorBatchIterator, TensorPairDataset, as_tensor_pair


def dataset(n=10):
    X = torch.arange(n * 2, dtype=torch.float32).reshape(n, 2)
    return TensorPairDataset(X, torch.arange(n))


def test_unshuffled_batches_are_views_in_order():
    batches = list(TensorBatchIterator(dataset(), batch_size=4))
    assert [len(xb) for xb, _ in batches] == [4, 4, 2]
    assert torch.equal(torch.cat([yb for _, yb in batches]), torch.arange(10))
    assert batches[0][0].data_ptr() == dataset().X.data_ptr() or batches[0][0]._base is not None


def test_shuffled_epochs_cover_every_row_once_in_new_orders():
    iterator = TensorBatchIterator(dataset(), batch_size=3, shuffle=True)
    torch.manual_seed(0)
    first = torch.cat([yb for _, yb in iterator])
    second = torch.cat([yb for _, yb in iterator])
    assert sorted(first.tolist()) == list(range(10)) == sorted(second.tolist())
    assert not torch.equal(first, second)
    assert len(iterator) == 4


def test_single_row_tail_is_merged_for_batch_norm():
    iterator = TensorBatchIterator(dataset(9), batch_size=4, merge_single_row_tail=True)
    assert [len(xb) for xb, _ in iterator] == [4, 5]
    assert len(iterator) == 2


def test_subset_is_gathered_once():
    X, y = as_tensor_pair(Subset(dataset(), [7, 2]))
    assert y.tolist() == [7, 2]
    assert torch.equal(X, dataset().X[[7, 2]])


def test_missing_target_yields_none():
    batches = list(TensorBatchIterator(TensorPairDataset(torch.zeros(3, 2)), batch_size=2))
    assert all(yb is None for _, yb in batches)
