import math

import numpy as np
import pytest
from skorch.callbacks import Callback

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor
from skreg._module import GeneratorDropout
from skreg._schedules import schedule_factor


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("constant", [1.0, 1.0, 1.0, 1.0]),
        # t = 0, 1/4, 1/2, 3/4: flat for the first half, then half a cosine.
        ("flat_cos", [1.0, 1.0, 1.0, 0.5]),
        ("cos", [1.0, 0.5 * (1 + math.cos(math.pi / 4)), 0.5,
                 0.5 * (1 + math.cos(0.75 * math.pi))]),
        ("linear", [1.0, 0.75, 0.5, 0.25]),
    ],
)
def test_schedule_factors_per_epoch(schedule, expected):
    factors = [schedule_factor(schedule, epoch, 4) for epoch in range(1, 5)]
    np.testing.assert_allclose(factors, expected, rtol=1e-15)
    # After max_iter epochs the schedule starts again.
    assert schedule_factor(schedule, 5, 4) == expected[0]


class RatesDuringEpochs(Callback):
    """Record the dropout rates and the decayed group's weight decay as each epoch trains."""

    def initialize(self):
        self.rates_, self.decays_ = [], []
        return self

    def on_batch_begin(self, net, training=False, **kwargs):
        if training and len(self.rates_) < len(net.history):
            layers = [m for m in net.module_.modules() if isinstance(m, GeneratorDropout)]
            self.rates_.append([layer.p for layer in layers])
            self.decays_.append(net.optimizer_.param_groups[0]["weight_decay"])


def test_dropout_and_weight_decay_follow_their_schedules_epoch_by_epoch(cancer):
    X, y = cancer
    model = RegularizedMLPClassifier(
        (8, 8), dropout=[0.4, 0.2], weight_decay=0.1, dropout_schedule="flat_cos",
        weight_decay_schedule="linear", max_iter=4, n_iter_no_change=np.inf,
        callbacks=[("rates", RatesDuringEpochs())], random_state=0,
    ).fit(X, y)
    rates = dict(model.net_.callbacks_)["rates"]
    flat_cos = np.array([1.0, 1.0, 1.0, 0.5])
    np.testing.assert_allclose(rates.rates_, np.outer(flat_cos, [0.4, 0.2]), rtol=1e-12)
    np.testing.assert_allclose(rates.decays_, 0.1 * np.array([1.0, 0.75, 0.5, 0.25]))
    np.testing.assert_allclose(model.net_.history[:, "event_dropout_factor"], flat_cos)
    np.testing.assert_allclose(
        model.net_.history[:, "event_weight_decay_factor"], [1.0, 0.75, 0.5, 0.25]
    )
    # After training the layers and the optimizer have their unscheduled values.
    layers = [m for m in model.net_.module_.modules() if isinstance(m, GeneratorDropout)]
    assert [layer.p for layer in layers] == [0.4, 0.2]
    assert model.net_.optimizer_.param_groups[0]["weight_decay"] == 0.1
    # Biases are never decayed, scheduled or not.
    assert all(group["weight_decay"] == 0.0 for group in model.net_.optimizer_.param_groups[1:])


def test_partial_fit_calls_follow_the_schedule_of_one_fit(diabetes):
    X, y = diabetes
    params = dict(hidden_layer_sizes=(8,), dropout=0.3, dropout_schedule="cos", max_iter=6,
                  n_iter_no_change=np.inf, random_state=0)
    whole = RegularizedMLPRegressor(**params).fit(X, y)
    parts = RegularizedMLPRegressor(**params)
    for _ in range(6):
        parts.partial_fit(X, y)
    np.testing.assert_array_equal(
        parts.net_.history[:, "event_dropout_factor"], whole.net_.history[:, "event_dropout_factor"]
    )
    np.testing.assert_array_equal(parts.predict(X), whole.predict(X))


def test_a_schedule_changes_training_and_constant_changes_nothing(cancer):
    X, y = cancer
    params = dict(hidden_layer_sizes=(16,), dropout=0.5, max_iter=10, random_state=0)
    plain = RegularizedMLPClassifier(**params).fit(X, y).predict_proba(X)
    constant = RegularizedMLPClassifier(dropout_schedule="constant", **params).fit(X, y)
    scheduled = RegularizedMLPClassifier(dropout_schedule="linear", **params).fit(X, y)
    np.testing.assert_array_equal(constant.predict_proba(X), plain)
    assert "event_dropout_factor" not in constant.net_.history[-1]
    assert not np.allclose(scheduled.predict_proba(X), plain)


@pytest.mark.parametrize("name", ["dropout_schedule", "weight_decay_schedule"])
def test_unknown_schedule_is_a_value_error_naming_the_parameter(cancer, name):
    X, y = cancer
    with pytest.raises(ValueError, match=name):
        RegularizedMLPClassifier(**{name: "cosine"}).fit(X, y)
