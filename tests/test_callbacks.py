"""skreg's skorch callbacks: the divergence guard, validation scores and learning-rate schedules."""

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score, r2_score
from skorch import NeuralNet
from skorch.callbacks import Callback, LRScheduler, PassthroughScoring

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor
from skreg._callbacks import (
    BatchLossAverage,
    accuracy_from_logits,
    learning_rate_scheduler,
    r2_from_outputs,
)


class PoisonWeightsAtLastEpoch(Callback):
    """Set one weight to NaN after the last epoch, when that epoch's loss is already recorded."""

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == net.max_epochs:
            with torch.no_grad():
                net.module_.output.weight[0, 0] = float("nan")


@pytest.mark.parametrize(
    "Estimator, data", [(RegularizedMLPRegressor, "diabetes"), (RegularizedMLPClassifier, "cancer")]
)
def test_huge_learning_rate_stops_with_a_clear_error(Estimator, data, request):
    X, y = request.getfixturevalue(data)
    model = Estimator((16,), solver="sgd", learning_rate_init=1e6, max_iter=5, random_state=0)
    diverged = r"Training diverged: train_loss became (nan|inf) in epoch"
    with pytest.raises(ValueError, match=diverged):
        model.fit(X, y)
    # No half-trained model is left behind to hand out NaN predictions.
    with pytest.raises(NotFittedError):
        model.predict(X)


def test_huge_inputs_stop_with_a_clear_error(diabetes):
    X, y = diabetes
    with pytest.raises(ValueError, match="learning_rate_init.*standardize the features"):
        RegularizedMLPRegressor((8,), max_iter=3, random_state=0).fit(X * 1e30, y)


def test_divergence_during_warm_start_keeps_the_last_finite_model(diabetes):
    X, y = diabetes
    model = RegularizedMLPRegressor((8,), max_iter=3, warm_start=True, random_state=0).fit(X, y)
    weights = {k: v.clone() for k, v in model.net_.module_.state_dict().items()}
    optimizer_step = model.net_.optimizer_.state_dict()["state"][0]["step"].clone()
    predictions, n_iter, history = model.predict(X), model.n_iter_, len(model.net_.history)
    with pytest.raises(ValueError, match="Training diverged"):
        model.fit(X * 1e30, y)
    for key, value in model.net_.module_.state_dict().items():
        assert torch.equal(value, weights[key])
    assert torch.equal(model.net_.optimizer_.state_dict()["state"][0]["step"], optimizer_step)
    assert len(model.net_.history) == history and model.n_iter_ == n_iter
    np.testing.assert_array_equal(model.predict(X), predictions)
    # ... and it can go on training on good data.
    model.fit(X, y)
    assert model.n_iter_ == n_iter and len(model.loss_curve_) == 2 * n_iter
    assert np.isfinite(model.predict(X)).all()


def test_weights_that_become_nan_after_the_last_loss_are_caught(diabetes):
    X, y = diabetes
    model = RegularizedMLPRegressor((8,), max_iter=2, random_state=0,
                                    callbacks=[PoisonWeightsAtLastEpoch()])
    with pytest.raises(ValueError, match="output.weight became NaN or infinite"):
        model.fit(X, y)


def test_divergence_under_early_stopping_restores_the_best_epoch(cancer):
    # As in sklearn: the epoch with the best validation score is restored, so a later
    # diverged epoch leaves a usable model instead of an error.
    X, y = cancer
    model = RegularizedMLPClassifier((16,), solver="sgd", learning_rate_init=1e6, max_iter=5,
                                     early_stopping=True, random_state=0)
    model.fit(X, y)
    assert not np.isfinite(model.loss_curve_).all()
    restored = model.net_.module_.state_dict().values()
    assert all(torch.isfinite(tensor).all() for tensor in restored)
    # A diverged epoch is never the best one (its accuracy is finite, its weights are not),
    # and training stops at it.
    finite = np.isfinite(model.loss_curve_)
    assert not finite[-1] and finite[:-1].all()
    assert model.best_validation_score_ == max(np.asarray(model.validation_scores_)[finite])


def test_guard_lets_finite_training_through_and_keeps_no_copies(diabetes):
    X, y = diabetes
    model = RegularizedMLPRegressor((8,), max_iter=3, random_state=0).fit(X, y)
    guard = dict(model.net_.callbacks_)["guard"]
    # It only detects: no copy of the weights or the optimizer's state is held.
    assert set(vars(guard)) == {"keys", "first_epoch_"}
    assert np.isfinite(model.predict(X)).all()


def test_scores_match_sklearn_with_and_without_weights():
    rng = np.random.RandomState(0)
    logits = rng.normal(size=(50, 3))
    labels = rng.randint(0, 3, size=50)
    weights = rng.uniform(0, 2, size=50)
    t = torch.from_numpy
    assert accuracy_from_logits(t(labels), t(logits)) == pytest.approx(
        accuracy_score(labels, logits.argmax(1))
    )
    assert accuracy_from_logits(t(labels), t(logits), t(weights)) == pytest.approx(
        accuracy_score(labels, logits.argmax(1), sample_weight=weights)
    )
    y_true, y_pred = rng.normal(size=(50, 2)), rng.normal(size=(50, 2))
    assert r2_from_outputs(t(y_true), t(y_pred)) == pytest.approx(r2_score(y_true, y_pred))
    assert r2_from_outputs(t(y_true), t(y_pred), t(weights)) == pytest.approx(
        r2_score(y_true, y_pred, sample_weight=weights)
    )


def test_schedule_names():
    # sklearn's schedules are callbacks of their own (see test_stopping.py), not torch's.
    for schedule in ("constant", "invscaling", "adaptive"):
        assert learning_rate_scheduler(schedule, 10) is None
    assert isinstance(learning_rate_scheduler("cosine", 10), LRScheduler)
    with pytest.raises(ValueError, match="learning_rate must be one of"):
        learning_rate_scheduler("step", 10)


@pytest.mark.parametrize("lower_is_better", [True, False, None])
def test_batch_loss_average_records_what_skorchs_passthrough_scoring_records(lower_is_better):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(70, 3)).astype(np.float32)
    y = rng.normal(size=(70, 1)).astype(np.float32)
    histories = []
    for scoring in (PassthroughScoring, BatchLossAverage):
        torch.manual_seed(0)
        net = NeuralNet(
            torch.nn.Linear, torch.nn.MSELoss, module__in_features=3, module__out_features=1,
            max_epochs=8, batch_size=16, lr=0.5, verbose=0,
            callbacks__valid_loss=scoring("valid_loss", lower_is_better=lower_is_better),
        ).fit(X, y)
        histories.append(net.history)
    stock, ours = histories
    np.testing.assert_allclose(ours[:, "valid_loss"], stock[:, "valid_loss"], rtol=1e-12)
    if lower_is_better is None:
        assert all("valid_loss_best" not in row for row in ours)
    else:
        assert ours[:, "valid_loss_best"] == stock[:, "valid_loss_best"]
        assert len(set(stock[:, "valid_loss_best"])) == 2  # both outcomes occur
