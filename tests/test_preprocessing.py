import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from skreg import RegularizedMLPRegressor, RobustScaleSmoothClip
from skreg._preprocessing import smooth_clip


@parametrize_with_checks([RobustScaleSmoothClip(), RobustScaleSmoothClip((10.0, 90.0), None)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_known_inputs_give_known_outputs():
    # Median 2, quartiles 1 and 3: z = (x - 2) / 2, then z / sqrt(1 + (z / 3) ** 2).
    X = np.array([[0.0], [1.0], [2.0], [3.0], [100.0]])
    out = RobustScaleSmoothClip().fit_transform(X).ravel()
    z = np.array([-1.0, -0.5, 0.0, 0.5, 49.0])
    np.testing.assert_allclose(out, z / np.sqrt(1 + z**2 / 9), rtol=1e-15)
    assert out[-1] == pytest.approx(2.99439, abs=1e-5)


def test_zero_quantile_range_falls_back_to_half_the_range_and_constants_to_zero():
    # Column 0 is mostly zeros (quartiles equal), column 1 constant.
    X = np.array([[0.0, 5.0]] * 6 + [[4.0, 5.0], [-4.0, 5.0]])
    model = RobustScaleSmoothClip(clip_bound=None).fit(X)
    np.testing.assert_array_equal(model.center_, [0.0, 5.0])
    np.testing.assert_array_equal(model.scale_, [2 / 8, 0.0])
    np.testing.assert_array_equal(model.transform([[4.0, 7.0]]), [[1.0, 0.0]])


def test_quantile_range_and_clip_bound_are_used():
    X = np.arange(101.0).reshape(-1, 1)
    model = RobustScaleSmoothClip(quantile_range=(10.0, 90.0), clip_bound=1.0).fit(X)
    assert model.scale_[0] == pytest.approx(1 / 80)
    np.testing.assert_allclose(model.transform([[130.0]]), [[1.0 / np.sqrt(2.0)]])


def test_smooth_clip_is_near_identity_for_small_values_and_bounded():
    z = np.array([-1e12, -3.0, -1e-4, 0.0, 1e-4, 3.0, 1e12])
    out = smooth_clip(z, 3.0)
    assert np.all(np.abs(out) <= 3.0) and np.all(np.diff(out) > 0)
    np.testing.assert_allclose(out[2:5], z[2:5], rtol=1e-8)
    assert out[5] == pytest.approx(3 / np.sqrt(2))


def test_float32_stays_float32_and_input_is_not_modified():
    X = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    before = X.copy()
    out = RobustScaleSmoothClip().fit(X).transform(X)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(X, before)


@pytest.mark.parametrize("quantile_range", [(75.0, 25.0), (-1.0, 50.0), (0.0, 101.0), (25.0,),
                                            (25.0, True)])
def test_bad_quantile_range_is_a_value_error_that_names_it(quantile_range):
    with pytest.raises(ValueError, match="quantile_range"):
        RobustScaleSmoothClip(quantile_range=quantile_range).fit(np.ones((4, 2)))


def test_composes_in_a_pipeline_and_keeps_feature_names():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X = X.iloc[:200]
    model = make_pipeline(
        RobustScaleSmoothClip(), RegularizedMLPRegressor((16,), max_iter=20, random_state=0)
    ).fit(X, y.iloc[:200])
    assert model.score(X, y.iloc[:200]) > 0
    names = model[0].get_feature_names_out()
    np.testing.assert_array_equal(names, X.columns)
    assert isinstance(X, pd.DataFrame)
