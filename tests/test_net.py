"""The net's loss (the fused mean reduction agrees with the mean of the per-row losses) and
the generators its fits draw from."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from torch import nn

from skreg._augment import BatchAugmentation
from skreg._captured import CapturedStepNet
from skreg._data import TensorBatchIterator, TensorPairDataset
from skreg._module import MLPModule
from skreg._net import RegularizedNet
from skreg._output import LogisticLoss
from skreg._weights import WeightedTarget


@pytest.fixture
def initialized_net(net_params):
    """An initialized net of the shared small module with ``criterion``, ``n_outputs`` outputs."""

    def make(criterion, n_outputs=3):
        params = net_params(
            module__n_outputs=n_outputs, module__hidden_layer_sizes=[5], criterion=criterion,
            optimizer=torch.optim.SGD,
        )
        return RegularizedNet(**params).initialize()

    return make


def per_row_mean(criterion, y_pred, target):
    per_row = criterion(y_pred, target)
    return per_row.reshape(len(per_row), -1).mean(dim=1).mean()


def case(name, generator):
    """A loss skreg builds and a batch of targets for it."""
    indices = torch.randint(0, 3, (32,), generator=generator)
    return {
        "class indices": (nn.CrossEntropyLoss(reduction="none"), indices),
        "label smoothing": (nn.CrossEntropyLoss(reduction="none", label_smoothing=0.1), indices),
        "class probabilities": (
            nn.CrossEntropyLoss(reduction="none"),
            torch.rand(32, 3, generator=generator).softmax(1),
        ),
        "squared error, several outputs": (
            nn.MSELoss(reduction="none"), torch.randn(32, 3, generator=generator)
        ),
        "logistic, several labels": (
            LogisticLoss(), torch.randint(0, 2, (32, 3), generator=generator).float()
        ),
        "logistic, label smoothing": (
            LogisticLoss(0.1), torch.randint(0, 2, (32, 3), generator=generator).float()
        ),
    }[name]


@pytest.mark.parametrize(
    "name",
    ["class indices", "label smoothing", "class probabilities", "squared error, several outputs",
     "logistic, several labels", "logistic, label smoothing"],
)
def test_fused_mean_loss_matches_the_mean_of_per_row_losses(name, initialized_net):
    generator = torch.Generator().manual_seed(0)
    criterion, target = case(name, generator)
    net = initialized_net(criterion)
    y_pred = torch.randn(32, 3, generator=generator).requires_grad_()
    reference_pred = y_pred.detach().clone().requires_grad_()
    fused = net._fused_mean_loss(y_pred, target)
    assert fused is not None
    reference = per_row_mean(criterion, reference_pred, target)
    torch.testing.assert_close(fused, reference)
    fused.backward()
    reference.backward()
    torch.testing.assert_close(y_pred.grad, reference_pred.grad)
    torch.testing.assert_close(net.get_loss(y_pred, target), reference)


@pytest.mark.parametrize(
    "criterion",
    [
        nn.CrossEntropyLoss(reduction="none", weight=torch.tensor([1.0, 2.0, 3.0])),
        nn.CrossEntropyLoss(reduction="sum"),
        nn.HuberLoss(reduction="none"),
    ],
    ids=["class weights", "sum", "other loss"],
)
def test_losses_whose_mean_reduction_differs_keep_the_per_row_path(criterion, initialized_net):
    generator = torch.Generator().manual_seed(1)
    net = initialized_net(criterion)
    y_pred = torch.randn(8, 3, generator=generator)
    if isinstance(criterion, nn.CrossEntropyLoss):
        target = torch.randint(0, 3, (8,), generator=generator)
    else:
        target = torch.randn(8, 3, generator=generator)
    assert net._fused_mean_loss(y_pred, target) is None
    expected = criterion(y_pred, target)
    expected = expected.reshape(len(expected), -1).mean(dim=1).mean() if expected.ndim else expected
    torch.testing.assert_close(net.get_loss(y_pred, target), expected)


def test_binary_logistic_loss_takes_the_fused_path_and_trains_like_unit_weights(initialized_net):
    generator = torch.Generator().manual_seed(2)
    net = initialized_net(LogisticLoss(), n_outputs=1)
    target = torch.randint(0, 2, (32, 1), generator=generator).float()
    y_pred = torch.randn(32, 1, generator=generator).requires_grad_()
    weighted_pred = y_pred.detach().clone().requires_grad_()
    fused = net._fused_mean_loss(y_pred, target)
    assert fused is not None
    weighted = net.get_loss(weighted_pred, WeightedTarget(target, torch.ones(32)))
    fused.backward()
    weighted.backward()
    assert torch.equal(fused, weighted) and torch.equal(y_pred.grad, weighted_pred.grad)


@pytest.mark.parametrize("batch_size", [150, 64])
def test_alpha_scales_as_sklearns_l2_term(batch_size):
    # One epoch of plain SGD from the same weights: sklearn adds alpha * W / n_batch_rows to
    # each batch's gradient, skreg must do the same (also for a last, smaller batch).
    from sklearn.datasets import load_iris
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    from skreg import RegularizedMLPClassifier

    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    params = dict(
        hidden_layer_sizes=(8,), solver="sgd", momentum=0.0, learning_rate_init=0.5,
        alpha=0.3, batch_size=batch_size, shuffle=False, max_iter=1,
    )
    rng = np.random.RandomState(0)
    coefs = [rng.normal(size=(4, 8)), rng.normal(size=(8, 3))]
    intercepts = [rng.normal(size=8), rng.normal(size=3)]
    reference = MLPClassifier(**params, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference.fit(X, y)
    reference.coefs_ = [c.copy() for c in coefs]
    reference.intercepts_ = [b.copy() for b in intercepts]
    reference.partial_fit(X, y)
    model = RegularizedMLPClassifier(**params, random_state=0)
    model.coefs_, model.intercepts_ = coefs, intercepts
    model.partial_fit(X, y, classes=[0, 1, 2])
    theirs_all = reference.coefs_ + reference.intercepts_
    for ours, theirs in zip(model.coefs_ + model.intercepts_, theirs_all):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
    # Without alpha the same step differs: the test can fail.
    plain = RegularizedMLPClassifier(**{**params, "alpha": 0.0}, random_state=0)
    plain.coefs_, plain.intercepts_ = coefs, intercepts
    plain.partial_fit(X, y, classes=[0, 1, 2])
    assert not np.allclose(plain.coefs_[0], reference.coefs_[0], rtol=1e-4, atol=1e-5)


def seeded_fit(seed, global_seed, **overrides):
    """A fit with dropout, shuffling, noise and mixup of a net with ``seed``, after seeding
    torch's global generator with ``global_seed``."""
    generator = torch.Generator().manual_seed(0)
    X = torch.randn(64, 4, generator=generator)
    y = torch.randint(0, 3, (64,), generator=generator)
    torch.manual_seed(global_seed)
    net = RegularizedNet(
        module=MLPModule, module__n_features=4, module__n_outputs=3,
        module__hidden_layer_sizes=[16], module__activation="relu", module__dropout=[0.4],
        module__batch_norm=False, criterion=nn.CrossEntropyLoss(reduction="none"),
        optimizer=torch.optim.Adam, max_epochs=3, batch_size=16, train_split=None,
        dataset=TensorPairDataset, iterator_train=TensorBatchIterator,
        iterator_train__shuffle=True, iterator_valid=TensorBatchIterator, verbose=0,
        augmentation=BatchAugmentation(input_noise=0.2, mixup_alpha=0.3, n_classes=3),
        seed=seed, **overrides,
    )
    return net.fit(X, y).module_.state_dict()


def test_a_seeded_net_draws_from_its_own_generators_and_none_from_torchs():
    state = torch.get_rng_state()
    first, other_global = seeded_fit(3, global_seed=0), seeded_fit(3, global_seed=1)
    torch.manual_seed(0)
    expected_state = torch.get_rng_state()
    seeded_fit(3, global_seed=0)
    assert torch.equal(torch.get_rng_state(), expected_state)  # the fit drew nothing from it
    other_seed = seeded_fit(4, global_seed=0)
    for key, value in first.items():
        assert torch.equal(value, other_global[key])
    assert not torch.equal(first["hidden.0.weight"], other_seed["hidden.0.weight"])
    torch.set_rng_state(state)


def test_an_unseeded_net_draws_from_torchs_global_generator_as_skorch_does():
    first, again = seeded_fit(None, global_seed=2), seeded_fit(None, global_seed=2)
    other = seeded_fit(None, global_seed=3)
    assert all(torch.equal(value, again[key]) for key, value in first.items())
    assert not torch.equal(first["hidden.0.weight"], other["hidden.0.weight"])


# The extension points of skorch's documentation ("Customization": the get_* and
# initialize_* methods, the training and validation steps); see skreg._net's docstring.
DOCUMENTED_HOOKS = {
    "__init__", "initialize_module", "get_default_callbacks", "get_iterator", "get_loss",
    "get_params_for_optimizer", "train_step", "train_step_single", "validation_step",
}


def test_the_net_overrides_only_skorchs_documented_extension_points():
    from skorch import NeuralNet

    assert RegularizedNet.__bases__ == (NeuralNet,)
    overridden = {
        name for name, value in vars(RegularizedNet).items()
        if callable(value) and hasattr(NeuralNet, name)
    }
    assert overridden == DOCUMENTED_HOOKS


def test_the_captured_step_net_overrides_only_three_documented_extension_points():
    from skorch import NeuralNet

    assert CapturedStepNet.__bases__ == (RegularizedNet,)
    overridden = {
        name for name, value in vars(CapturedStepNet).items()
        if callable(value) and hasattr(NeuralNet, name)
    }
    assert overridden == {"get_iterator", "get_params_for_optimizer", "train_step"}
    assert overridden <= DOCUMENTED_HOOKS


def skorch_and_skreg_parameters(net):
    """The names ``get_params`` may hold: skorch's own, skreg's, and double-underscore ones."""
    from skorch import NeuralNet

    stock = NeuralNet(module=MLPModule, criterion=nn.MSELoss).get_params(deep=False)
    skreg = {"l1", "l2", "alpha", "weight_decay", "augmentation", "seed"}
    return set(stock) | skreg | {key for key in net.get_params(deep=False) if "__" in key}


@pytest.mark.parametrize("net_class", [RegularizedNet, CapturedStepNet])
def test_get_params_holds_only_skorchs_and_skregs_parameters_before_during_and_after(net_class):
    from sklearn.base import clone
    from skorch.callbacks import Callback

    seen = []

    class Params(Callback):
        def on_batch_end(self, net, **kwargs):
            seen.append(set(net.get_params(deep=False)))

    rng = np.random.RandomState(0)
    X = torch.from_numpy(rng.normal(size=(60, 4)).astype(np.float32))
    y = torch.from_numpy(rng.randint(0, 3, 60))
    net = net_class(
        module=MLPModule, module__n_features=4, module__n_outputs=3,
        module__hidden_layer_sizes=[5], module__activation="relu", module__dropout=[0.2],
        module__batch_norm=False, criterion=nn.CrossEntropyLoss, optimizer=torch.optim.Adam,
        criterion__reduction="none", dataset=TensorPairDataset, batch_size=16,
        iterator_train=TensorBatchIterator, iterator_valid=TensorBatchIterator,
        train_split=None, max_epochs=2, verbose=0, l1=1e-3, l2=1e-3, seed=0,
        callbacks=[("params", Params())],
    )
    allowed = skorch_and_skreg_parameters(net)
    before = set(net.get_params(deep=False))
    net.fit(X, y)
    assert before <= allowed
    assert seen and all(keys == before for keys in seen)
    assert set(net.get_params(deep=False)) == before
    assert set(clone(net).get_params(deep=False)) == before
