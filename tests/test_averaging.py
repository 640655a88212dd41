import numpy as np
import pytest
import torch
from skorch.callbacks import Callback
from torch import nn

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor


class EpochWeights(Callback):
    """Copy the module's parameters at the end of every epoch (runs before the averaging)."""

    def initialize(self):
        self.weights_ = []
        return self

    def on_epoch_end(self, net, **kwargs):
        self.weights_.append([p.detach().clone() for p in net.module_.parameters()])


def fit_recording(model, X, y):
    model.set_params(callbacks=[("weights", EpochWeights())]).fit(X, y)
    return model, dict(model.net_.callbacks_)["weights"].weights_


def test_averaged_weights_are_the_mean_of_the_last_epochs_weights(diabetes):
    X, y = diabetes
    model, epochs = fit_recording(
        RegularizedMLPRegressor((16, 16), swa_start=0.5, max_iter=12, n_iter_no_change=np.inf,
                                l2=1e-3, random_state=0), X, y,
    )
    assert len(epochs) == 12
    swa = dict(model.net_.callbacks_)["swa"]
    assert swa.n_averaged_ == 6 and swa.first_averaged_epoch_ == 7
    for index, parameter in enumerate(model.net_.module_.parameters()):
        mean = torch.stack([w[index].double() for w in epochs[6:]]).mean(dim=0)
        torch.testing.assert_close(parameter.detach(), mean.float(), rtol=1e-6, atol=1e-7)
        assert not torch.equal(parameter.detach(), epochs[-1][index])


def test_batch_norm_statistics_are_recomputed_for_the_averaged_weights(diabetes):
    X, y = diabetes
    # One batch of all rows: the recomputed statistics are those of the whole training set.
    model = RegularizedMLPRegressor(
        (8,), batch_norm=True, dropout=0.5, swa_start=0.0, batch_size=len(X), max_iter=5,
        n_iter_no_change=np.inf, random_state=0,
    ).fit(X, y)
    module = model.net_.module_
    batch_norm = next(m for m in module.modules() if isinstance(m, nn.BatchNorm1d))
    with torch.no_grad():
        pre = module.hidden[0](torch.as_tensor(X, dtype=torch.float32))
    torch.testing.assert_close(batch_norm.running_mean, pre.mean(dim=0), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(batch_norm.running_var, pre.var(dim=0), rtol=1e-5, atol=1e-6)
    assert batch_norm.momentum == 0.1


def test_training_that_stops_before_averaging_keeps_its_last_weights(cancer):
    X, y = cancer
    # No epoch improves by tol=1e9: after the first epoch the rule stops in 3 more;
    # averaging would start at epoch 11.
    model, epochs = fit_recording(
        RegularizedMLPClassifier((8,), swa_start=0.5, max_iter=20, tol=1e9, n_iter_no_change=2,
                                 random_state=0), X, y,
    )
    assert model.n_iter_ == 4 and dict(model.net_.callbacks_)["swa"].n_averaged_ == 0
    for parameter, last in zip(model.net_.module_.parameters(), epochs[-1]):
        assert torch.equal(parameter.detach(), last)


def test_a_warm_started_fit_averages_its_own_epochs(cancer):
    X, y = cancer
    model = RegularizedMLPClassifier((8,), swa_start=0.75, max_iter=8, n_iter_no_change=np.inf,
                                     warm_start=True, random_state=0)
    model.fit(X, y).fit(X, y)
    swa = dict(model.net_.callbacks_)["swa"]
    assert (swa.first_averaged_epoch_, swa.n_averaged_) == (15, 2)


def test_averaging_is_reproducible_and_changes_the_model(cancer):
    X, y = cancer
    params = dict(hidden_layer_sizes=(16,), max_iter=10, n_iter_no_change=np.inf, random_state=0)
    first = RegularizedMLPClassifier(swa_start=0.5, **params).fit(X, y).predict_proba(X)
    again = RegularizedMLPClassifier(swa_start=0.5, **params).fit(X, y).predict_proba(X)
    plain = RegularizedMLPClassifier(**params).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, plain)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"early_stopping": True}, "early_stopping"),
        ({"solver": "lbfgs"}, "lbfgs"),
    ],
)
def test_combinations_that_cannot_average_are_refused(cancer, params, match):
    X, y = cancer
    with pytest.raises(ValueError, match=match):
        RegularizedMLPClassifier(swa_start=0.5, **params).fit(X, y)


def test_partial_fit_refuses_averaging(cancer):
    X, y = cancer
    with pytest.raises(ValueError, match="partial_fit does not support swa_start"):
        RegularizedMLPClassifier(swa_start=0.5).partial_fit(X, y, classes=[0, 1])


@pytest.mark.parametrize("swa_start", [1.0, -0.1, "0.5"])
def test_swa_start_out_of_range_is_refused(cancer, swa_start):
    X, y = cancer
    with pytest.raises(ValueError, match="swa_start"):
        RegularizedMLPClassifier(swa_start=swa_start).fit(X, y)
