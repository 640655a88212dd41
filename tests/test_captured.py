"""The captured training step: its bookkeeping (checked eagerly on a CPU) and its CUDA graph."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from skorch.callbacks import Callback
from torch import nn

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor, load, save
from skreg._callbacks import NonFiniteLossGuard
from skreg._captured import CapturedStep, CapturedStepNet, DeviceLearningRates
from skreg._module import MLPModule
from skreg._net import RegularizedNet
from skreg._sparse import SparseRowsDataset, batch_iterator


class CountBatches(Callback):
    def initialize(self):
        self.sizes_ = []
        return self

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            self.sizes_.append(len(batch[0]))


class ClipsGradients(Callback):
    def on_grad_computed(self, net, named_parameters, **kwargs):
        pass


@pytest.fixture
def make_net(net_params):
    """A function that builds a net of the shared small module, wider, with batch norm and
    both penalties, with or without the captured step."""

    def make(cuda_graph, device="cpu", **overrides):
        params = net_params(
            module__n_features=5, module__n_outputs=3, module__hidden_layer_sizes=[16, 8],
            module__activation="tanh", module__dropout=[0.0, 0.0], module__batch_norm=True,
            max_epochs=4, iterator_train__merge_single_row_tail=True, train_split=None,
            device=device, l1=1e-3, l2=1e-2, callbacks=[("count", CountBatches())],
        )
        net_class = CapturedStepNet if cuda_graph else RegularizedNet
        return net_class(**{**params, **overrides})

    return make


def data(n=90, device="cpu"):
    rng = np.random.RandomState(0)
    X = torch.from_numpy(rng.normal(size=(n, 5)).astype(np.float32))
    y = torch.from_numpy((rng.randint(0, 3, n)).astype(np.int64))
    return X.to(device), y.to(device)


def fit_both(make_net, device="cpu", **overrides):
    X, y = data(device=device)
    nets = []
    for cuda_graph in (False, True):
        torch.manual_seed(0)
        nets.append(make_net(cuda_graph, device=device, **overrides).fit(X, y))
    return nets


def test_static_step_trains_like_the_eager_loop(make_net):
    # Without batch norm: the bias of a layer followed by batch norm has a zero
    # gradient up to rounding, which Adam scales up to full steps, so its value
    # depends on the order of floating-point additions.
    eager, static = fit_both(make_net, module__batch_norm=False)
    for key, value in eager.module_.state_dict().items():
        torch.testing.assert_close(static.module_.state_dict()[key], value)
    # 90 rows in batches of 16: five full batches, then a last one of 10 that runs eagerly.
    assert dict(static.callbacks_)["count"].sizes_ == [16, 16, 16, 16, 16, 10] * 4
    for key in ("train_loss", "train_batch_count"):
        np.testing.assert_allclose(static.history[:, key], eager.history[:, key], rtol=1e-5)
    np.testing.assert_allclose(
        static.history[:, "batches", :, "train_loss"],
        eager.history[:, "batches", :, "train_loss"], rtol=1e-5,
    )
    assert static.history[:, "batches", :, "train_batch_size"] == (
        eager.history[:, "batches", :, "train_batch_size"]
    )



def test_static_step_trains_adamw_like_the_eager_loop(make_net):
    # weight_decay builds AdamW, which older torch releases (2.2) do not derive from Adam.
    eager, static = fit_both(
        make_net, module__batch_norm=False, optimizer=torch.optim.AdamW,
        optimizer__weight_decay=0.1,
    )
    assert type(static.optimizer_) is torch.optim.AdamW
    for key, value in eager.module_.state_dict().items():
        torch.testing.assert_close(static.module_.state_dict()[key], value)

def fit_both_seeded(make_net, device="cpu", **overrides):
    """Eager and static-step fits with dropout, each drawing from its own seeded generators."""
    X, y = data(device=device)
    params = dict(module__dropout=[0.3, 0.0], module__batch_norm=False, seed=5, **overrides)
    return [make_net(cuda_graph, device=device, **params).fit(X, y) for cuda_graph in (False, True)]


def test_static_step_draws_the_permutations_and_masks_of_the_eager_loop(make_net):
    state = torch.get_rng_state()
    eager, static = fit_both_seeded(make_net)
    assert torch.equal(torch.get_rng_state(), state)
    for key, value in eager.module_.state_dict().items():
        torch.testing.assert_close(static.module_.state_dict()[key], value)
    np.testing.assert_allclose(
        static.history[:, "train_loss"], eager.history[:, "train_loss"], rtol=1e-5
    )


def test_fitted_net_keeps_no_captured_state_and_pickles(make_net):
    _, static = fit_both(make_net)
    assert static.fit_state_ is None
    assert dict(static.callbacks_)["fit_state"].captured_ is None
    restored = pickle.loads(pickle.dumps(static))
    X, _ = data()
    np.testing.assert_allclose(restored.predict_proba(X), static.predict_proba(X))


def test_on_grad_computed_callbacks_and_sgd_are_refused(make_net):
    X, y = data()
    with pytest.raises(ValueError, match="on_grad_computed"):
        make_net(True, callbacks=[ClipsGradients()]).fit(X, y)
    with pytest.raises(ValueError, match="adam"):
        make_net(True, optimizer=torch.optim.SGD).fit(X, y)


def test_sparse_rows_are_refused_with_the_way_out(make_net):
    X, y = data()
    rows = SparseRowsDataset(sp.csr_matrix(X.numpy()), y)
    net = make_net(True, iterator_train=batch_iterator, iterator_valid=batch_iterator)
    with pytest.raises(ValueError, match="cuda_graph=True needs dense X.*cuda_graph=False"):
        net.fit(rows, y)


@pytest.mark.parametrize(
    "device, cuda_graph, optimizer, capturable",
    [("cuda", True, torch.optim.Adam, True), ("cuda", True, torch.optim.AdamW, True),
     ("cuda", False, torch.optim.Adam, None), ("cpu", True, torch.optim.Adam, None),
     ("cuda", True, torch.optim.SGD, None)],
)
def test_a_net_with_cuda_graph_builds_a_capturable_adam(
    device, cuda_graph, optimizer, capturable, make_net
):
    # Only the optimizer's arguments: building the net on "cuda" needs no GPU.
    net = make_net(cuda_graph, device=device, optimizer=optimizer)
    module = MLPModule(5, 3, [4], "relu", [0.0], False)
    _, kwargs = net.get_params_for_optimizer("optimizer", module.named_parameters())
    assert kwargs.get("capturable") is capturable


def test_capture_refuses_an_adam_that_is_not_capturable(make_net):
    X, y = data()
    net = make_net(True).initialize()
    iterator = net.get_iterator(net.get_dataset(X, y), training=True)
    with pytest.raises(ValueError, match="capturable=True"):
        CapturedStep(net, iterator, capture=True)


@pytest.mark.parametrize("cuda_graph", [False, True])
def test_a_fit_that_raises_leaves_no_parameter_and_the_next_fit_a_fresh_state(cuda_graph, make_net):
    X, y = data()
    X_nan = X.clone()
    X_nan[:, 0] = float("nan")
    net = make_net(cuda_graph, callbacks=[("guard", NonFiniteLossGuard())])
    with pytest.raises(ValueError, match="nan"):
        net.fit(X_nan, y)
    # skorch skips on_train_end after an exception: the state stays with its
    # callback, never among the net's parameters, and the weights have their own memory.
    assert not [key for key in net.get_params(deep=False) if "state" in key or "cache" in key]
    pointers = [p.untyped_storage().data_ptr() for p in net.module_.parameters()]
    assert len(set(pointers)) == len(pointers)
    stale = dict(net.callbacks_)["fit_state"].captured_
    assert (stale is not None) == cuda_graph
    # The net keeps its diverged weights (the estimator, not the net, rolls a failed call
    # back), so the next call is a fresh fit.
    net.fit(X, y)
    assert net.fit_state_ is None
    assert dict(net.callbacks_)["fit_state"].captured_ is None


def test_learning_rate_tensors_follow_a_scheduler_and_stay_out_of_the_groups():
    parameters = [nn.Parameter(torch.zeros(3)), nn.Parameter(torch.zeros(2))]
    optimizer = torch.optim.Adam(
        [{"params": parameters[:1]}, {"params": parameters[1:], "lr": 0.5}], lr=0.1
    )
    rates = DeviceLearningRates(optimizer, torch.device("cpu"))
    tensors = list(rates.tensors)
    with rates.installed():
        assert [group["lr"] for group in optimizer.param_groups] == tensors
    assert [group["lr"] for group in optimizer.param_groups] == [0.1, 0.5]
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.2)
    for _ in range(2):
        scheduler.step(1.0)
    assert all(type(group["lr"]) is float for group in optimizer.param_groups)
    rates.sync()
    assert rates.tensors[0] is tensors[0] and rates.tensors[1] is tensors[1]
    assert [t.item() for t in tensors] == pytest.approx([0.1 * 0.2, 0.5 * 0.2])
    with rates.installed():
        assert optimizer.param_groups[1]["lr"] is tensors[1]
    assert optimizer.param_groups[1]["lr"] == pytest.approx(0.5 * 0.2)


@pytest.mark.parametrize("params", [{"device": "cpu"}, {"solver": "sgd"}])
def test_estimator_refuses_cuda_graph_where_it_cannot_apply(params):
    X = np.random.RandomState(0).normal(size=(20, 3))
    if torch.cuda.is_available():
        params = {"device": "cuda", **params}
    with pytest.raises(ValueError, match="cuda_graph=True"):
        RegularizedMLPRegressor(cuda_graph=True, **params).fit(X, X[:, 0])


def test_only_cuda_graph_builds_the_captured_step_net(diabetes):
    X, y = diabetes
    model = RegularizedMLPRegressor((4,), max_iter=2, random_state=0).fit(X, y)
    assert type(model.net_) is RegularizedNet
    # The builder alone, which needs no GPU; a CPU fit with cuda_graph=True is refused
    # (test_estimator_refuses_cuda_graph_where_it_cannot_apply).
    model.set_params(cuda_graph=True)
    net = model._build_net(X.shape[1], 1, len(X), torch.device("cpu"))
    assert type(net) is CapturedStepNet
    assert "cuda_graph" not in net.get_params(deep=False)


def test_a_captured_step_net_outside_a_training_call_steps_as_its_parent(make_net):
    X, y = data()
    nets = [make_net(cuda_graph).initialize() for cuda_graph in (False, True)]
    nets[1].module_.load_state_dict(nets[0].module_.state_dict())
    steps = [net.train_step((X[:16], y[:16])) for net in nets]
    torch.testing.assert_close(steps[1]["loss"], steps[0]["loss"])
    for key, value in nets[0].module_.state_dict().items():
        torch.testing.assert_close(nets[1].module_.state_dict()[key], value)


def assert_same_training(eager, captured):
    """The captured net's weights and epoch losses are the eager net's, up to GPU rounding."""
    for key, value in eager.module_.state_dict().items():
        torch.testing.assert_close(captured.module_.state_dict()[key], value, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        captured.history[:, "train_loss"], eager.history[:, "train_loss"], rtol=1e-4
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_captured_step_matches_the_eager_step_on_the_gpu(make_net):
    eager, captured = fit_both(make_net, device="cuda", module__batch_norm=False)
    assert_same_training(eager, captured)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_captured_dropout_draws_new_masks_from_the_fits_generator_on_the_gpu(make_net):
    # The graph replays the draws of the fit's generator, reseeded at every epoch: the same
    # masks as the eager loop, and the caller's CUDA generator untouched.
    state = torch.cuda.get_rng_state()
    eager, captured = fit_both_seeded(make_net, device="cuda")
    assert torch.equal(torch.cuda.get_rng_state(), state)
    assert_same_training(eager, captured)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_estimator_with_cuda_graph_predicts_like_the_eager_one(cancer):
    X, y = cancer
    params = dict(hidden_layer_sizes=(64, 64), batch_size=64, max_iter=5, l2=1e-3,
                  early_stopping=True, device="cuda", random_state=0)
    eager = RegularizedMLPClassifier(**params).fit(X, y)
    captured = RegularizedMLPClassifier(cuda_graph=True, **params).fit(X, y)
    np.testing.assert_allclose(
        captured.predict_proba(X), eager.predict_proba(X), rtol=1e-4, atol=1e-5
    )
    assert captured.validation_scores_ == pytest.approx(eager.validation_scores_, abs=1e-3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("schedule", ["cosine"])
def test_captured_step_follows_a_learning_rate_schedule(cancer, schedule, tmp_path):
    X, y = cancer
    params = dict(hidden_layer_sizes=(32,), batch_size=64, max_iter=6, learning_rate=schedule,
                  learning_rate_init=0.01, tol=1.0, device="cuda", random_state=0)
    eager = RegularizedMLPClassifier(**params).fit(X, y)
    captured = RegularizedMLPClassifier(cuda_graph=True, **params).fit(X, y)
    rates = captured.net_.history[:, "event_lr"]
    assert all(type(rate) is float for rate in rates)
    assert rates == pytest.approx(eager.net_.history[:, "event_lr"])
    assert len(set(rates)) > 1
    np.testing.assert_allclose(
        captured.predict_proba(X), eager.predict_proba(X), rtol=1e-4, atol=1e-5
    )
    save(captured, tmp_path / "captured.skreg")
    np.testing.assert_allclose(
        load(tmp_path / "captured.skreg").predict_proba(X), captured.predict_proba(X),
        rtol=1e-5, atol=1e-6,
    )
