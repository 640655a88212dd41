import numpy as np
import pytest
import torch
from torch.utils.data import Subset

from skreg._data import TensorBatchIterator, TensorPairDataset, as_tensor_pair, data_device


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


def test_data_goes_to_the_gpu_only_when_it_fits():
    cuda = torch.device("cuda")
    assert data_device(100, torch.device("cpu")) == torch.device("cpu")
    assert data_device(100, cuda, free_bytes=1000) == cuda
    assert data_device(600, cuda, free_bytes=1000) == torch.device("cpu")


def test_batches_are_not_copied_when_the_data_is_where_it_is_needed():
    iterator = TensorBatchIterator(dataset(), batch_size=4, device="cpu")
    assert not iterator._host_to_device()
    assert [len(xb) for xb, _ in iterator] == [4, 4, 2]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_host_data_is_copied_to_the_gpu_batch_by_batch():
    iterator = TensorBatchIterator(dataset(), batch_size=3, shuffle=True, device="cuda")
    assert iterator._host_to_device()
    torch.manual_seed(0)
    batches = list(iterator)
    assert all(xb.is_cuda and yb.is_cuda for xb, yb in batches)
    X = torch.cat([xb for xb, _ in batches]).cpu()
    y = torch.cat([yb for _, yb in batches]).cpu()
    assert sorted(y.tolist()) == list(range(10))
    torch.testing.assert_close(X, dataset().X[y])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fit_on_the_gpu_gives_the_same_model_with_host_and_device_data(monkeypatch, cancer):
    from skreg import RegularizedMLPClassifier, _data

    X, y = cancer
    # Without shuffling: a permutation drawn on the GPU differs from one drawn on the host.
    params = dict(
        hidden_layer_sizes=(32,), max_iter=5, l2=1e-3, shuffle=False, device="cuda", random_state=0
    )
    on_device = RegularizedMLPClassifier(**params).fit(X, y)
    assert on_device.net_.module_.output.weight.is_cuda
    monkeypatch.setattr(_data, "DEVICE_DATA_FRACTION", 0.0)
    from_host = RegularizedMLPClassifier(**params).fit(X, y)
    np.testing.assert_allclose(
        from_host.predict_proba(X), on_device.predict_proba(X), rtol=1e-5, atol=1e-6
    )
