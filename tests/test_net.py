"""The net's loss: the fused mean reduction agrees with the mean of the per-row losses; and
the L2 gradient handed to fused Adam trains the same weights."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback
from torch import nn

from skreg import RegularizedMLPClassifier
from skreg._base import uses_fused_adam
from skreg._module import MLPModule
from skreg._net import RegularizedNet


def initialized_net(criterion, n_outputs=3):
    return RegularizedNet(
        module=MLPModule, module__n_features=4, module__n_outputs=n_outputs,
        module__hidden_layer_sizes=[5], module__activation="relu", module__dropout=[0.0],
        module__batch_norm=False, criterion=criterion, optimizer=torch.optim.SGD,
    ).initialize()


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
    }[name]


@pytest.mark.parametrize(
    "name",
    ["class indices", "label smoothing", "class probabilities", "squared error, several outputs"],
)
def test_fused_mean_loss_matches_the_mean_of_per_row_losses(name):
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
def test_losses_whose_mean_reduction_differs_keep_the_per_row_path(criterion):
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


class RecordDecay(Callback):
    """Records the weight matrices' ``weight_decay`` at each training batch; reads the gradients."""

    def initialize(self):
        self.decays = []
        return self

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self.decays.append(net.optimizer_.param_groups[0]["weight_decay"])

    def on_grad_computed(self, net, named_parameters, **kwargs):
        self.gradients_seen = [p.grad for _, p in named_parameters]


def fitted(cancer, recorder, **params):
    """A fitted classifier, and the ``weight_decay`` its recorder saw at each training batch."""
    X, y = cancer
    model = RegularizedMLPClassifier(
        (16,), batch_size=64, max_iter=3, tol=0, random_state=0,
        callbacks=[("record", recorder)], **params,
    ).fit(X, y)
    return model, set(dict(model.net_.callbacks_)["record"].decays)


@pytest.mark.skipif(not uses_fused_adam("cpu"), reason="this torch has no fused Adam on a CPU")
@pytest.mark.parametrize("l1", [0.0, 1e-3])
def test_fused_adam_adds_the_l2_gradient_and_trains_the_same_weights(cancer, l1, monkeypatch):
    # Reads the gradients: the training step adds l1 * sign(w) + l2 * w itself.
    in_step, decays = fitted(cancer, RecordDecay(), l1=l1, l2=1e-2)
    assert decays == {0.0}
    # Reads nothing: fused Adam's coupled decay adds l2 * w, during the fit only.
    monkeypatch.setattr(RecordDecay, "on_grad_computed", Callback.on_grad_computed)
    in_optimizer, decays = fitted(cancer, RecordDecay(), l1=l1, l2=1e-2)
    assert decays == {1e-2}
    assert in_optimizer.net_.optimizer_.param_groups[0]["weight_decay"] == 0.0
    for key, value in in_step.net_.module_.state_dict().items():
        torch.testing.assert_close(in_optimizer.net_.module_.state_dict()[key], value)
    np.testing.assert_allclose(
        in_optimizer.net_.history[:, "train_loss"], in_step.net_.history[:, "train_loss"],
        rtol=1e-5,
    )


@pytest.mark.parametrize(
    "params", [dict(solver="sgd"), dict(weight_decay=1e-3)], ids=["sgd", "adamw"]
)
def test_other_optimizers_keep_the_l2_gradient_in_the_step(cancer, params, monkeypatch):
    monkeypatch.setattr(RecordDecay, "on_grad_computed", Callback.on_grad_computed)
    _, decays = fitted(cancer, RecordDecay(), l2=1e-2, **params)
    assert decays == {params.get("weight_decay", 0.0)}
