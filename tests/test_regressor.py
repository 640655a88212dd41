import numpy as np
import pytest

from skreg import RegularizedMLPRegressor


def test_predictions_are_in_original_units(diabetes):
    X, y = diabetes
    big = 1000 * y + 5e5
    model = RegularizedMLPRegressor(max_iter=100, random_state=0).fit(X, big)
    assert abs(model.predict(X).mean() - big.mean()) < 0.05 * big.std()
    assert model.score(X, big) > 0.5
    np.testing.assert_allclose(model.y_mean_, [big.mean()])
    np.testing.assert_allclose(model.y_scale_, [big.std()])


def test_multi_output(diabetes):
    X, y = diabetes
    Y = np.column_stack([y, -2 * y + 7])
    model = RegularizedMLPRegressor(max_iter=100, random_state=0).fit(X, Y)
    pred = model.predict(X)
    assert pred.shape == (len(X), 2) and model.n_outputs_ == 2
    np.testing.assert_allclose(pred[:, 1], -2 * pred[:, 0] + 7, rtol=0.1, atol=20)


def test_constant_target_does_not_divide_by_zero():
    X = np.random.RandomState(0).normal(size=(20, 3))
    model = RegularizedMLPRegressor(max_iter=5, random_state=0).fit(X, np.full(20, 3.0))
    assert np.all(np.isfinite(model.predict(X)))
    np.testing.assert_allclose(model.y_scale_, [1.0])


def test_validation_scores_are_r2(diabetes):
    X, y = diabetes
    model = RegularizedMLPRegressor(early_stopping=True, max_iter=30, random_state=0).fit(X, y)
    assert len(model.validation_scores_) == model.n_iter_
    # The best epoch's weights are restored: their R^2 on the held-out rows is the best score.
    _, rows = model._validation_split(y, model._draw_seed())
    assert model.score(X[rows], y[rows]) == pytest.approx(model.best_validation_score_, abs=1e-5)


def test_predictions_beyond_float32_range_raise_for_float32_input():
    # Found by test_regressor_on_arbitrary_arrays: finite float64 predictions that float32
    # input would turn into inf (sklearn's MLP returns float32 predictions for float32 X).
    X = np.zeros((11, 1), dtype=np.float32)
    X[0, 0] = -6.780958e36
    y = np.zeros(11)
    y[0] = 324.0
    model = RegularizedMLPRegressor((3,), max_iter=2, early_stopping=True, random_state=0)
    model.fit(X, y)
    with pytest.raises(ValueError, match="exceed float32's range"):
        model.predict(X)
    assert np.isfinite(model.predict(X.astype(np.float64))).all()
