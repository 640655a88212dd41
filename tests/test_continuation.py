"""Continued training: changed parameters take effect, or raise when the network cannot follow."""

import functools
import re
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from skorch.callbacks import Callback

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor
from skreg._continuation import check_architecture, same_setting


class RecordLearningRate(Callback):
    """Keep the optimizer's learning rate at the start of each epoch."""

    def on_train_begin(self, net, **kwargs):
        self.rates_ = []

    def on_epoch_begin(self, net, **kwargs):
        self.rates_.append(net.optimizer_.param_groups[0]["lr"])


def quietly(call, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return call(*args)


def fitted(cancer, **params):
    X, y = cancer
    model = RegularizedMLPClassifier(
        **{"hidden_layer_sizes": (16,), "max_iter": 3, "warm_start": True, "random_state": 0,
           **params}
    )
    return quietly(model.fit, X, y)


def continued(model, cancer, how):
    X, y = cancer
    if how == "partial_fit":
        return quietly(model.partial_fit, X, y)
    return quietly(model.fit, X, y)


def dropout_rates(model):
    return [m.p for m in model.net_.module_.modules() if isinstance(m, torch.nn.Dropout)]


@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
@pytest.mark.parametrize(
    "name, value, built",
    [
        ("hidden_layer_sizes", (16, 16), "[16]"),
        ("activation", "tanh", "'relu'"),
        ("batch_norm", True, "False"),
        ("early_stopping", True, "False"),
    ],
)
def test_a_changed_architecture_raises_naming_the_parameter_and_both_values(
    cancer, how, name, value, built
):
    X, _ = cancer
    model = fitted(cancer)
    proba, history = model.predict_proba(X), len(model.net_.history)
    model.set_params(**{name: value})
    message = re.escape(f"trained with {name}={built}, now {name}={value!r}")
    # partial_fit refuses early stopping outright, as sklearn's does.
    match = "partial_fit does not support" if (how, name) == ("partial_fit", "early_stopping") \
        else rf"{name} cannot change .* {message}"
    with pytest.raises(ValueError, match=match):
        continued(model, cancer, how)
    np.testing.assert_array_equal(model.predict_proba(X), proba)
    assert len(model.net_.history) == history
    # Set back, it trains on.
    model.set_params(**{name: RegularizedMLPClassifier().get_params()[name]})
    model.set_params(hidden_layer_sizes=(16,))
    continued(model, cancer, how)
    assert len(model.net_.history) > history


def test_switching_early_stopping_off_is_refused_too(cancer):
    model = fitted(cancer, early_stopping=True)
    model.set_params(early_stopping=False)
    with pytest.raises(ValueError, match="trained with early_stopping=True, now early_stopping"):
        continued(model, cancer, "warm_start")


def test_switching_the_captured_step_on_is_refused_as_the_nets_class_changes(cancer):
    # On a CPU a fit with cuda_graph=True is refused before it trains, so the check is
    # called with the net the changed parameters build (a CapturedStepNet).
    X, _ = cancer
    model = fitted(cancer)
    model.set_params(cuda_graph=True)
    template = model._build_net(X.shape[1], model.n_outputs_, len(X), torch.device("cpu"))
    with pytest.raises(ValueError, match="trained with cuda_graph=False, now cuda_graph=True"):
        check_architecture(model, model.net_, template, stochastic=True)


def test_the_regressors_loss_cannot_change(diabetes):
    X, y = diabetes
    model = quietly(RegularizedMLPRegressor((8,), max_iter=2, warm_start=True,
                                            random_state=0).fit, X, y)
    model.set_params(loss="poisson")
    with pytest.raises(ValueError, match="trained with loss='squared_error', now loss='poisson'"):
        model.fit(X, np.abs(y))
    assert model.out_activation_ == "identity"


@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_a_changed_learning_rate_drives_the_next_epochs(cancer, how):
    model = fitted(cancer, callbacks=[RecordLearningRate()])
    model.set_params(learning_rate_init=0.02)
    continued(model, cancer, how)
    rates = dict(model.net_.callbacks_)["RecordLearningRate"].rates_
    assert rates and set(rates) == {0.02}
    assert model.net_.optimizer_.param_groups[0]["lr"] == 0.02


def test_a_learning_rate_the_schedule_lowered_is_kept_when_unchanged(cancer):
    X, y = cancer
    model = RegularizedMLPClassifier((16,), solver="sgd", learning_rate="adaptive", tol=10.0,
                                     n_iter_no_change=1, max_iter=6, warm_start=True,
                                     random_state=0)
    quietly(model.fit, X, y)
    lowered = model.net_.optimizer_.param_groups[0]["lr"]
    assert lowered < 0.001
    model.set_params(callbacks=[RecordLearningRate()], max_iter=1)
    quietly(model.fit, X, y)
    assert dict(model.net_.callbacks_)["RecordLearningRate"].rates_ == [lowered]


@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_changed_dropout_rates_change_the_module_and_keep_the_weights(cancer, how):
    model = fitted(cancer, dropout=0.2)
    weights = model.net_.module_.hidden[0].weight
    steps = model.net_.optimizer_.state[weights]["step"].item()
    model.set_params(dropout=0.5)
    continued(model, cancer, how)
    assert dropout_rates(model) == [0.5]
    model.set_params(dropout=0.0)
    continued(model, cancer, how)
    assert dropout_rates(model) == []
    model.set_params(dropout=[0.3])
    continued(model, cancer, how)
    assert dropout_rates(model) == [0.3] and model.net_.module__dropout == [0.3]
    # The same weight tensors trained on, with the optimizer's state carried along.
    assert model.net_.module_.hidden[0].weight is weights
    assert model.net_.optimizer_.state[weights]["step"].item() > steps


def test_penalties_noise_batch_size_and_stopping_rule_take_effect(cancer):
    model = fitted(cancer)
    model.set_params(l1=1e-4, l2=1e-3, alpha=0.5, input_noise=0.1, mixup_alpha=0.2,
                     batch_size=64, tol=1e-2, n_iter_no_change=3, shuffle=False,
                     label_smoothing=0.1)
    continued(model, cancer, "warm_start")
    net = model.net_
    assert (net.l1, net.l2, net.alpha, net.batch_size, net.iterator_train__shuffle) == (
        1e-4, 1e-3, 0.5, 64, False
    )
    assert (net.augmentation.input_noise, net.augmentation.mixup_alpha) == (0.1, 0.2)
    assert net.criterion_.label_smoothing == 0.1
    stopping = dict(net.callbacks_)["stopping"]
    assert (stopping.tol, stopping.n_iter_no_change) == (1e-2, 3)
    assert net.history[-1, "train_batch_count"] == int(np.ceil(len(cancer[1]) / 64))


def test_the_stopping_rule_keeps_counting_across_a_changed_tol(cancer):
    # As sklearn's warm start: the count of epochs without improvement goes on.
    model = fitted(cancer, tol=10.0, n_iter_no_change=50)
    stopping = dict(model.net_.callbacks_)["stopping"]
    assert model._no_improvement_count == 2  # the first epoch improves on infinity
    model.set_params(tol=20.0, max_iter=2)
    continued(model, cancer, "warm_start")
    assert dict(model.net_.callbacks_)["stopping"] is stopping
    assert model._no_improvement_count == 4 and stopping.tol == 20.0


def test_adams_and_sgds_settings_take_effect_in_place(cancer):
    model = fitted(cancer)
    optimizer = model.net_.optimizer_
    model.set_params(beta_1=0.5, beta_2=0.9, epsilon=1e-6)
    continued(model, cancer, "partial_fit")
    group = model.net_.optimizer_.param_groups[0]
    assert model.net_.optimizer_ is optimizer
    assert (group["betas"], group["eps"]) == ((0.5, 0.9), 1e-6)
    model.set_params(solver="sgd", momentum=0.5, nesterovs_momentum=False)
    continued(model, cancer, "partial_fit")
    group = model.net_.optimizer_.param_groups[0]
    assert type(model.net_.optimizer_) is torch.optim.SGD
    assert (group["momentum"], group["nesterov"]) == (0.5, False)
    model.set_params(nesterovs_momentum=True)
    continued(model, cancer, "partial_fit")
    assert model.net_.optimizer_.param_groups[0]["nesterov"] is True


def test_weight_decay_and_solver_changes_rebuild_the_optimizer_keeping_adams_state(cancer):
    model = fitted(cancer)
    weights = model.net_.module_.hidden[0].weight
    steps = model.net_.optimizer_.state[weights]["step"].item()
    model.set_params(weight_decay=0.1)
    continued(model, cancer, "partial_fit")
    optimizer = model.net_.optimizer_
    assert type(optimizer) is torch.optim.AdamW
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.1, 0.0]
    # Adam's moments went on into AdamW: one epoch of 3 batches more.
    assert optimizer.state[weights]["step"].item() == steps + 3
    model.set_params(weight_decay=0.05)
    continued(model, cancer, "partial_fit")
    assert model.net_.optimizer_ is optimizer and optimizer.param_groups[0]["weight_decay"] == 0.05
    model.set_params(solver="sgd", momentum=0.5, weight_decay=0.0)
    continued(model, cancer, "partial_fit")
    optimizer = model.net_.optimizer_
    assert type(optimizer) is torch.optim.SGD and len(optimizer.param_groups) == 1
    assert optimizer.param_groups[0]["momentum"] == 0.5


def test_a_new_schedule_and_new_callbacks_take_effect(cancer):
    model = fitted(cancer)
    model.set_params(learning_rate="cosine", callbacks=[RecordLearningRate()])
    continued(model, cancer, "warm_start")
    callbacks = dict(model.net_.callbacks_)
    assert "lr_scheduler" in callbacks
    assert callbacks["RecordLearningRate"].rates_[0] == 0.001
    assert callbacks["RecordLearningRate"].rates_[1] < 0.001


def test_invscaling_switched_on_later_counts_the_rows_seen_before(cancer):
    X, _ = cancer
    model = fitted(cancer, solver="sgd")
    model.set_params(learning_rate="invscaling", power_t=0.25, max_iter=1)
    continued(model, cancer, "warm_start")
    # sklearn's rate after t_ rows: learning_rate_init / (t_ + 1) ** power_t.
    lr = model.net_.optimizer_.param_groups[0]["lr"]
    assert model.t_ == 4 * len(X)
    assert lr == pytest.approx(0.001 / (model.t_ + 1) ** 0.25)


def test_unchanged_parameters_keep_the_callbacks_and_their_state(diabetes):
    X, y = diabetes
    model = RegularizedMLPRegressor((8,), max_iter=2, warm_start=True, random_state=0,
                                    callbacks=[RecordLearningRate()])
    quietly(model.fit, X, y)
    callbacks, optimizer = list(model.net_.callbacks_), model.net_.optimizer_
    quietly(model.fit, X, y)
    assert list(model.net_.callbacks_) == callbacks and model.net_.optimizer_ is optimizer


def test_a_changed_validation_fraction_splits_this_calls_rows(cancer):
    model = fitted(cancer, early_stopping=True)
    model.set_params(validation_fraction=0.3)
    continued(model, cancer, "warm_start")
    # sklearn's split of this call's rows: ceil(0.3 * 569) of them held out.
    assert len(model.net_.train_split.keywords["valid_ds"]) == 171
    assert len(model.validation_scores_) == 6


def test_l_bfgs_reads_changed_penalties(diabetes):
    X, y = diabetes
    start = RegularizedMLPRegressor((8,), solver="lbfgs", max_iter=5, warm_start=True,
                                    random_state=0)
    norms = {}
    for l2 in (0.0, 5.0):
        model = quietly(clone(start).fit, X, y)
        model.set_params(l2=l2, max_iter=50)
        quietly(model.fit, X, y)
        assert model.net_.l2 == l2
        norms[l2] = float(model.net_.module_.hidden[0].weight.detach().norm())
    assert norms[5.0] < 0.5 * norms[0.0]


def test_settings_are_compared_by_value_and_functions_by_identity():
    def f(a, b):
        return a

    def g(a, b):
        return b

    assert same_setting([0.5, (1, 2)], [0.5, (1, 2)]) and not same_setting([0.5], (0.5,))
    assert same_setting(torch.nn.CrossEntropyLoss(label_smoothing=0.1),
                        torch.nn.CrossEntropyLoss(label_smoothing=0.1).eval())
    assert not same_setting(torch.nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss(
        label_smoothing=0.1))
    assert same_setting(RecordLearningRate(), RecordLearningRate())
    assert same_setting(f, f) and not same_setting(f, g)
    assert not same_setting(functools.partial(f, 1), functools.partial(g, 1))
    assert same_setting(np.arange(3), np.arange(3)) and not same_setting(np.arange(3), np.ones(3))


@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_a_changed_residual_is_refused(cancer, how):
    model = fitted(cancer, hidden_layer_sizes=(16, 16))
    model.set_params(residual=True)
    with pytest.raises(ValueError, match=r"residual cannot change .* residual=False, now"):
        continued(model, cancer, how)


def test_schedules_and_weight_averaging_switched_on_take_effect(cancer):
    X, y = cancer
    model = fitted(cancer, dropout=0.2, n_iter_no_change=np.inf)
    model.set_params(dropout_schedule="linear", swa_start=0.5, max_iter=4)
    quietly(model.fit, X, y)
    callbacks = dict(model.net_.callbacks_)
    # Epochs 4-7 of the net: progress ((epoch - 1) % 4) / 4 = 3/4, 0, 1/4, 1/2.
    np.testing.assert_allclose(model.net_.history[-4:, "event_dropout_factor"],
                               [0.25, 1.0, 0.75, 0.5])
    assert (callbacks["swa"].first_averaged_epoch_, callbacks["swa"].n_averaged_) == (6, 2)
    # Switched off again, neither runs.
    model.set_params(dropout_schedule="constant", swa_start=None)
    quietly(model.fit, X, y)
    assert "swa" not in dict(model.net_.callbacks_)
    assert "event_dropout_factor" not in model.net_.history[-1]
    assert dropout_rates(model) == [0.2]
