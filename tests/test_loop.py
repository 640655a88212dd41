"""The net's steps through skorch's documented hooks: the same history, callback calls and
weights as skorch's own; the state of a training call, kept by its callback."""

import numpy as np
import pytest
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from torch import nn

from skreg import RegularizedMLPClassifier
from skreg._data import TensorBatchIterator, TensorPairDataset
from skreg._loop import FitState, defines_hook
from skreg._module import MLPModule
from skreg._net import RegularizedNet
from skreg._random import EPOCH, INITIALIZATION, derived_seed


class CountBatchHooks(Callback):
    def initialize(self):
        self.calls_ = {"begin": [0, 0], "end": [0, 0], "grad": 0}
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        self.calls_["begin"][training] += 1

    def on_batch_end(self, net, batch=None, training=False, loss=None, **kwargs):
        self.calls_["end"][training] += 1
        # The batch row of the history is complete when on_batch_end runs.
        assert net.history[-1, "batches", -1, "train_loss" if training else "valid_loss"] == (
            pytest.approx(loss.item())
        )

    def on_grad_computed(self, net, named_parameters, **kwargs):
        assert all(p.grad is not None for _, p in named_parameters)
        self.calls_["grad"] += 1


class EpochOnly(Callback):
    def on_epoch_end(self, net, **kwargs):
        pass


def net_params(**overrides):
    params = dict(
        module=MLPModule, module__n_features=4, module__n_outputs=2,
        module__hidden_layer_sizes=[8], module__activation="relu", module__dropout=[0.2],
        module__batch_norm=True, criterion=nn.CrossEntropyLoss, optimizer=torch.optim.Adam,
        lr=0.01, max_epochs=3, batch_size=16, dataset=TensorPairDataset,
        iterator_train=TensorBatchIterator, iterator_train__shuffle=True,
        iterator_valid=TensorBatchIterator, verbose=0,
    )
    return {**params, **overrides}


def data(n=70):
    rng = np.random.RandomState(0)
    X = torch.from_numpy(rng.normal(size=(n, 4)).astype(np.float32))
    return X, (X[:, 0] > 0).long()


def test_defines_hook_tells_overridden_batch_hooks_from_no_ops():
    assert defines_hook(CountBatchHooks(), "on_batch_end")
    assert defines_hook(CountBatchHooks(), "on_grad_computed")
    assert not defines_hook(EpochOnly(), "on_batch_end")
    assert not defines_hook(EpochOnly(), "on_batch_begin")


def test_same_weights_and_history_as_skorchs_own_loop():
    X, y = data()
    torch.manual_seed(0)
    lean = RegularizedNet(**net_params()).fit(X, y)
    torch.manual_seed(0)
    stock = NeuralNet(**net_params()).fit(X, y)
    for key, value in stock.module_.state_dict().items():
        torch.testing.assert_close(lean.module_.state_dict()[key], value, rtol=0, atol=0)
    keys = ["epoch", "train_loss", "train_loss_best", "valid_loss", "valid_loss_best",
            "train_batch_count", "valid_batch_count"]
    np.testing.assert_allclose(
        np.array(lean.history[:, keys], dtype=float),
        np.array(stock.history[:, keys], dtype=float), rtol=1e-12,
    )
    assert lean.history[:, "batches", :, "train_batch_size"] == (
        stock.history[:, "batches", :, "train_batch_size"]
    )


def test_without_validation_data_no_valid_loss_is_recorded():
    X, y = data()
    net = RegularizedNet(**net_params(train_split=None)).fit(X, y)
    assert all("valid_loss" not in epoch for epoch in net.history)
    assert net.history[:, "train_loss_best"][0] is True


def test_batch_hooks_reach_the_callbacks_that_define_them():
    X, y = data(70)
    net = RegularizedNet(
        **net_params(train_split=lambda ds, y=None: (ds, ds)),
        callbacks=[("count", CountBatchHooks()), ("epoch_only", EpochOnly())],
    ).fit(X, y)
    calls = dict(net.callbacks_)["count"].calls_
    batches_per_epoch = 5  # ceil(70 / 16)
    assert calls["begin"] == [3 * batches_per_epoch, 3 * batches_per_epoch]
    assert calls["end"] == [3 * batches_per_epoch, 3 * batches_per_epoch]
    assert calls["grad"] == 3 * batches_per_epoch
    history = net.history
    assert history[:, "train_batch_count"] == [batches_per_epoch] * 3
    for epoch in history:
        sizes = [b["train_batch_size"] for b in epoch["batches"] if "train_batch_size" in b]
        losses = [b["train_loss"] for b in epoch["batches"] if "train_loss" in b]
        assert sum(sizes) == 70
        assert epoch["train_loss"] == pytest.approx(np.average(losses, weights=sizes))
        assert "valid_loss" in epoch and "dur" in epoch


def test_every_training_step_runs_in_training_mode_even_after_a_callback_switches_it():
    modes = []

    class SwitchToEval(Callback):
        def on_grad_computed(self, net, **kwargs):
            modes.append(net.module_.training)

        def on_batch_end(self, net, **kwargs):
            net.module_.eval()

    X, y = data(40)
    net = RegularizedNet(**net_params(max_epochs=2, train_split=None), callbacks=[SwitchToEval()])
    net.fit(X, y)
    assert modes == [True] * 6


def test_training_matches_a_hand_written_loop(cancer):
    """The estimator's fit is the plain loop: init and each epoch's permutation drawn from
    generators seeded from the fit's seed, Adam."""
    X, y = cancer
    X = X.astype(np.float32)
    model = RegularizedMLPClassifier(
        (16,), batch_size=64, max_iter=4, tol=0, l1=1e-3, l2=1e-2, random_state=3
    ).fit(X, y)

    seed = int(np.random.RandomState(3).randint(np.iinfo(np.int32).max))
    init = torch.Generator().manual_seed(derived_seed(seed, INITIALIZATION))
    # A binary target: one logit and binary cross-entropy of 0/1 targets.
    module = MLPModule(X.shape[1], 1, [16], "relu", [0.0], False, generator=init)
    optimizer = torch.optim.Adam(module.parameters(), lr=0.001)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y.astype(np.float32).reshape(-1, 1))
    for epoch in range(1, 5):
        generator = torch.Generator().manual_seed(derived_seed(seed, EPOCH, epoch))
        order = torch.randperm(len(X), generator=generator)
        for start in range(0, len(X), 64):
            index = order[start : start + 64]
            optimizer.zero_grad()
            loss = nn.functional.binary_cross_entropy_with_logits(
                module(X_t[index]), y_t[index]
            )
            weights = [p for p in module.parameters() if p.ndim >= 2]
            loss = loss + 1e-3 * sum(w.abs().sum() for w in weights)
            loss = loss + 0.5e-2 * sum((w * w).sum() for w in weights)
            loss.backward()
            optimizer.step()
    for key, value in module.state_dict().items():
        torch.testing.assert_close(model.net_.module_.state_dict()[key], value)


def test_the_nets_own_gradient_hook_is_notified_as_skorch_notifies_it():
    class CountsGradients(RegularizedNet):
        def on_grad_computed(self, net, named_parameters, **kwargs):
            self.grads_ = getattr(self, "grads_", 0) + 1

    X, y = data(40)
    net = CountsGradients(**net_params(max_epochs=2, train_split=None)).fit(X, y)
    assert net.grads_ == 2 * 3  # ceil(40 / 16) steps per epoch


def test_validation_batches_run_in_evaluation_mode_without_gradients():
    modes = []

    class RecordsModes(Callback):
        def on_batch_end(self, net, training=False, y_pred=None, **kwargs):
            modes.append((training, net.module_.training, y_pred.requires_grad))

    X, y = data(40)
    net = RegularizedNet(
        **net_params(max_epochs=2, train_split=lambda ds, y=None: (ds, ds)),
        callbacks=[RecordsModes()],
    )
    net.fit(X, y)
    assert modes.count((True, True, True)) == 6
    assert modes.count((False, False, False)) == 6


def test_the_state_of_a_training_call_lives_from_its_begin_to_its_end():
    states = []

    class RecordsState(Callback):
        def on_epoch_end(self, net, **kwargs):
            state = net.fit_state_
            states.append((state, state.generators_.epoch, state.penalty_ is not None))

    X, y = data(40)
    net = RegularizedNet(
        **net_params(max_epochs=2, train_split=None), l2=1e-2, seed=3,
        callbacks=[RecordsState()],
    )
    net.fit(X, y)
    callback = dict(net.callbacks_)["fit_state"]
    assert isinstance(callback, FitState)
    assert [(s is callback, epoch, penalty) for s, epoch, penalty in states] == [
        (True, 1, True), (True, 2, True)
    ]
    assert net.fit_state_ is None
    assert callback.generators_ is None and callback.penalty_ is None
    # The epochs of a partial_fit go on counting from the history.
    net.partial_fit(X, y)
    assert [epoch for _, epoch, _ in states[2:]] == [3, 4]
