"""A failed fit leaves the estimator's fitted state as it was."""

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor

RNG = np.random.RandomState(0)
X = RNG.normal(size=(30, 3))
FRAME = pd.DataFrame(X, columns=["a", "b", "c"])


def fitted_state(model):
    return {k: v for k, v in vars(model).items() if k.endswith("_")}


def test_failed_refit_keeps_the_previous_model():
    model = RegularizedMLPClassifier((4,), max_iter=2, random_state=0)
    model.fit(FRAME, np.where(X[:, 0] > 0, "up", "down"))
    before = fitted_state(model)
    predictions = model.predict(FRAME)
    # Valid X of another width (so n_features_in_ and feature_names_in_ get reset), then a y
    # that fails after the labels were encoded.
    wider = np.c_[X, X]
    with pytest.raises(ValueError, match="only one class"):
        model.fit(wider, np.full(30, "up"))
    after = fitted_state(model)
    assert after.keys() == before.keys()
    for key, value in before.items():
        assert after[key] is value
    np.testing.assert_array_equal(model.predict(FRAME), predictions)


def test_failed_first_fit_leaves_the_estimator_unfitted():
    model = RegularizedMLPRegressor((4,), max_iter=2, learning_rate_init=1e6, solver="sgd")
    with pytest.raises(ValueError, match="diverged"):
        model.fit(X * 1e3, X[:, 0] * 1e3)
    assert fitted_state(model) == {}
    with pytest.raises(NotFittedError):
        model.predict(X)
