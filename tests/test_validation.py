"""Bad input: each case is a ValueError or TypeError naming the problem, and nothing the caller
passed in is modified."""

import copy

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.utils._param_validation import (
    InvalidParameterError,
    generate_invalid_param_val,
    make_constraint,
)

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor

TINY = dict(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
RNG = np.random.RandomState(0)
X = RNG.normal(size=(20, 3))
Y_CLASS = np.where(X[:, 0] > 0, "yes", "no")
Y_REG = X[:, 1].copy()


def with_value(array, index, value):
    out = np.array(array, dtype=np.result_type(array, type(value)))
    out[index] = value
    return out


def same(a, b):
    if isinstance(a, list):
        return a == b
    if isinstance(a, pd.DataFrame):
        return a.equals(b) and list(a.columns) == list(b.columns)
    if sp.issparse(a):
        return a.format == b.format and np.array_equal(a.toarray(), b.toarray(), equal_nan=True)
    try:
        return np.array_equal(a, b, equal_nan=True)
    except TypeError:  # object arrays cannot compare NaN
        return np.array_equal(np.asarray(a, dtype=object), np.asarray(b, dtype=object))


def assert_raises_unchanged(call, X, y, error, match):
    """``call(X, y)`` raises ``error`` matching ``match`` and leaves X and y as they were."""
    X_before, y_before = copy.deepcopy(X), copy.deepcopy(y)
    with pytest.raises(error, match=match):
        call(X, y)
    assert same(X, X_before) and same(y, y_before)


FIT_CASES = {
    # name: (estimator class, X, y, exception, message fragment)
    "nan in X": ("both", with_value(X, (0, 0), np.nan), None, ValueError, "Input X contains NaN"),
    "inf in X": ("both", with_value(X, (3, 1), np.inf), None, ValueError, "infinity"),
    "nan in y (regressor)": (RegularizedMLPRegressor, X, with_value(Y_REG, 2, np.nan),
                             ValueError, "Input y contains NaN"),
    "inf in y (regressor)": (RegularizedMLPRegressor, X, with_value(Y_REG, 2, np.inf),
                             ValueError, "Input y contains infinity"),
    "nan in y (classifier)": (RegularizedMLPClassifier, X,
                              with_value((X[:, 0] > 0).astype(float), 2, np.nan),
                              ValueError, "Input y contains NaN"),
    "None label": (RegularizedMLPClassifier, X, with_value(Y_CLASS.astype(object), 2, None),
                   ValueError, "missing label"),
    "empty data": ("both", X[:0], None, ValueError, "0 sample"),
    "zero features": ("both", X[:, :0], None, ValueError, "0 feature"),
    "1-D X": ("both", X[:, 0], None, ValueError, "Expected 2D array"),
    "3-D X": ("both", X.reshape(20, 3, 1), None, ValueError, "dim 3"),
    "scalar X": ("both", 3.0, None, ValueError, "Expected 2D array"),
    "X and y of different lengths": ("both", X[:-1], None, ValueError, "inconsistent numbers"),
    "y missing": ("both", X, "none", ValueError, "requires y"),
    "single class": (RegularizedMLPClassifier, X, np.full(20, "yes"), ValueError,
                     "only one class"),
    "continuous target to classifier": (RegularizedMLPClassifier, X, Y_REG, ValueError,
                                        "Unknown label type: continuous"),
    "indicator matrix of 1 and 2": (RegularizedMLPClassifier, X,
                                    np.c_[X[:, 0] > 0, X[:, 1] > 0].astype(int) + 1,
                                    ValueError, r"indicator matrix of 0 and 1.*\[1, 2\]"),
    "multiclass-multioutput target to classifier": (
        RegularizedMLPClassifier, X, np.c_[Y_CLASS, Y_CLASS[::-1]], ValueError,
        "binary, multiclass and multilabel.*got multiclass-multioutput"),
    "text target to regressor": (RegularizedMLPRegressor, X, Y_CLASS, ValueError,
                                 "y contains text.*RegularizedMLPClassifier"),
    "huge target to regressor": (RegularizedMLPRegressor, X, Y_REG * 1e306, ValueError,
                                 "too large to standardize"),
    "string column in a DataFrame": (
        "both", pd.DataFrame({"a": X[:, 0], "city": ["paris", "lyon"] * 10}), None,
        ValueError, r"non-numeric column.*'city'.*OneHotEncoder.*ColumnTransformer"),
    "categorical column of text": (
        "both", pd.DataFrame({"a": X[:, 0], "plan": pd.Categorical(["basic", "pro"] * 10)}),
        None, ValueError, r"'plan' \(category\).*OneHotEncoder"),
    "object array of text": ("both", np.array([["a", 1.0]] * 20, dtype=object), None,
                             ValueError, "X contains text.*OneHotEncoder.*ColumnTransformer"),
    "list of text": ("both", [["red", 1.0]] * 20, None, ValueError, "OneHotEncoder"),
    "dict in an object array": ("both", with_value(X.astype(object), (0, 0), {"a": 1}), None,
                                TypeError, "must be a string or a real number"),
    "complex X": ("both", X + 1j, None, ValueError, "Complex data not supported"),
    "complex y": (RegularizedMLPRegressor, X, Y_REG + 1j, ValueError,
                  "Complex data not supported"),
    "nan stored in sparse X": ("both", sp.csr_matrix(with_value(X, (0, 0), np.nan)), None,
                               ValueError, "Input X contains NaN"),
    "inf stored in sparse X": ("both", sp.csc_matrix(with_value(X, (3, 1), np.inf)), None,
                               ValueError, "infinity"),
    "ragged rows": ("both", [[1.0, 2.0], [3.0]] * 10, None, ValueError, "inhomogeneous"),
    "nullable integers with NA": (
        "both", pd.DataFrame({"a": pd.array([1, None] + [2] * 18, dtype="Int64")}), None,
        ValueError, "Input X contains NaN"),
    "input of 1e30 diverges": (RegularizedMLPRegressor, X * 1e30, None, ValueError,
                               "Training diverged|NaN or infinite"),
    "too few samples for early stopping": (
        # scikit-learn's train_test_split's message, as sklearn's MLP gives.
        "early_stopping", X[:4], ["a", "b", "a", "b"], ValueError,
        "should be greater or equal to the number of classes"),
    "one sample of a class for early stopping": (
        "early_stopping", X, ["a"] + ["b"] * 19, ValueError,
        # scikit-learn's wording; older releases (1.7) read "class in y has".
        r"The least populated class(es)? in y ha(s|ve) only 1 member"),
    "batch norm on one sample": (RegularizedMLPRegressor(batch_norm=True, **TINY), X[:1],
                                 Y_REG[:1], ValueError, "batch_norm=True needs at least 2"),
}


def fit_cases():
    for name, (kind, X_, y_, error, match) in FIT_CASES.items():
        if kind == "both":
            estimators = [RegularizedMLPClassifier(**TINY), RegularizedMLPRegressor(**TINY)]
        elif kind == "early_stopping":
            estimators = [RegularizedMLPClassifier(early_stopping=True, **TINY)]
        elif isinstance(kind, type):
            estimators = [kind(**TINY)]
        else:
            estimators = [kind]
        for estimator in estimators:
            y = y_
            if y is None:
                y = Y_CLASS if estimator._is_classifier else Y_REG
            elif isinstance(y, str) and y == "none":
                y = None
            label = "classifier" if estimator._is_classifier else "regressor"
            yield pytest.param(estimator, X_, y, error, match, id=f"{name}-{label}")


@pytest.mark.parametrize("estimator, X_bad, y_bad, error, match", list(fit_cases()))
def test_bad_input_to_fit(estimator, X_bad, y_bad, error, match):
    assert_raises_unchanged(estimator.fit, X_bad, y_bad, error, match)


PREDICT_CASES = {
    "nan": (with_value(X, (0, 0), np.nan), ValueError, "Input X contains NaN"),
    "inf": (with_value(X, (0, 0), -np.inf), ValueError, "infinity"),
    "too few features": (X[:, :2], ValueError, "X has 2 features, but .* is expecting 3"),
    "too many features": (np.c_[X, X], ValueError, "X has 6 features"),
    "renamed columns": (pd.DataFrame(X, columns=["a", "b", "z"]), ValueError,
                        "feature names should match"),
    "reordered columns": (pd.DataFrame(X[:, ::-1], columns=["c", "b", "a"]), ValueError,
                          "(?i)feature names must be in the same order"),
    "text column": (pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": ["x"] * 20}), ValueError,
                    "OneHotEncoder"),
    "1-D X": (X[0], ValueError, "Expected 2D array"),
    "empty": (X[:0], ValueError, "0 sample"),
    "nan stored in sparse X": (sp.csr_matrix(with_value(X, (0, 0), np.nan)), ValueError,
                               "Input X contains NaN"),
    "inf stored in sparse X": (sp.csr_array(with_value(X, (0, 0), np.inf)), ValueError,
                               "infinity"),
    "sparse X with too few features": (sp.csr_matrix(X[:, :2]), ValueError,
                                       "X has 2 features, but .* is expecting 3"),
    # Every sign pattern at float32's largest value: some hidden unit overflows to inf.
    "overflowing input": (
        3.4e38 * np.array(np.meshgrid(*[[-1, 1]] * 3)).reshape(3, -1).T,
        ValueError,
        "NaN or infinite for",
    ),
}


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
@pytest.mark.parametrize("name", list(PREDICT_CASES))
@pytest.mark.parametrize("Estimator", [RegularizedMLPClassifier, RegularizedMLPRegressor])
def test_bad_input_to_predict(Estimator, name):
    y = Y_CLASS if Estimator is RegularizedMLPClassifier else Y_REG
    # Overflow needs a hidden unit whose weights sum to more than 1 in absolute value; with
    # 64 units some unit has them whatever the seed, with TINY's 4 only for some seeds.
    params = {**TINY, "hidden_layer_sizes": (64,)} if name == "overflowing input" else TINY
    model = Estimator(**params).fit(pd.DataFrame(X, columns=["a", "b", "c"]), y)
    X_bad, error, match = PREDICT_CASES[name]
    methods = [model.predict] + ([model.predict_proba] if hasattr(model, "predict_proba") else [])
    for method in methods:
        assert_raises_unchanged(lambda X_, _: method(X_), X_bad, None, error, match)


def test_text_columns_suggest_encoding_and_pipeline_works():
    frame = pd.DataFrame({"a": X[:, 0], "city": ["paris", "lyon"] * 10})
    with pytest.raises(ValueError, match="OneHotEncoder") as info:
        RegularizedMLPClassifier(**TINY).fit(frame, Y_CLASS)
    assert "ColumnTransformer" in str(info.value)
    # Numbers in an object column are numbers, not text.
    numbers = pd.DataFrame({"a": X[:, 0]}, dtype=object)
    RegularizedMLPRegressor(**TINY).fit(numbers, Y_REG)


def test_partial_fit_rejects_labels_it_was_not_told_about():
    model = RegularizedMLPClassifier(**TINY)
    model.partial_fit(X, Y_CLASS, classes=["no", "yes"])
    y_new = with_value(Y_CLASS.astype(object), 0, "maybe")
    X_before = X.copy()
    with pytest.raises(ValueError, match="maybe"):
        model.partial_fit(X, y_new)
    np.testing.assert_array_equal(X, X_before)


# ---------------------------------------------------------------------- hyperparameters
WRONG_TYPES = [object(), "nonsense", [object()], {"a": 1}]


def invalid_values(constraints):
    """Values that break each constraint: out of range (sklearn's generator) and of wrong type."""
    values = list(WRONG_TYPES)
    for constraint in constraints:
        try:
            values.append(generate_invalid_param_val(make_constraint(constraint)))
        except NotImplementedError:
            pass
    return values


def satisfies_any(value, constraints):
    return any(make_constraint(c).is_satisfied_by(value) for c in constraints)


@pytest.mark.parametrize("Estimator", [RegularizedMLPClassifier, RegularizedMLPRegressor])
def test_every_hyperparameter_rejects_invalid_values(Estimator):
    tried = 0
    for name, constraints in Estimator._parameter_constraints.items():
        for value in invalid_values(constraints):
            if satisfies_any(value, constraints):
                continue  # e.g. a string is a valid `device` for the constraint itself
            with pytest.raises((ValueError, TypeError), match=name):
                Estimator(**{**TINY, name: value}).fit(X, Y_CLASS[:20] if
                                                       Estimator is RegularizedMLPClassifier
                                                       else Y_REG)
            tried += 1
    assert tried >= 2 * len(Estimator._parameter_constraints)


BAD_VALUES = {
    "hidden_layer_sizes": [(0,), (-3,), (2.5,), ("a",), (True,)],
    "dropout": [1.0, -0.1, np.nan, [0.2, 0.3], [np.nan], True],
    "l1": [-1e-3, np.inf, np.nan, True],
    "l2": [-1.0, np.inf, True],
    "learning_rate_init": [0.0, -1.0, np.inf, np.nan],
    "momentum": [1.5, np.nan],
    "batch_size": [0, 2.5, True, "big"],
    "max_iter": [0, 2.5, True],
    "max_fun": [0, 2.5, True],
    "tol": [-1.0, np.nan],
    "n_iter_no_change": [0, 1.5],
    "validation_fraction": [0.0, 1.0],
    "random_state": [-1, "seed", 2**40, True],
    "verbose": [-1, "loud"],
    "shuffle": [1, "yes"],
    "activation": ["ReLU", None],
    "solver": ["newton"],
    "device": ["gpu", "cuda:x", "", "meta", 0],
    "callbacks": ["print", [1], [("name",)]],
}


@pytest.mark.parametrize("name, value", [(n, v) for n, vs in BAD_VALUES.items() for v in vs])
def test_named_bad_hyperparameters(name, value):
    with pytest.raises((ValueError, TypeError), match=rf"{name}|{name.split('_')[0]}"):
        RegularizedMLPRegressor(**{**TINY, name: value}).fit(X, Y_REG)


def test_bool_is_not_a_number_for_numeric_hyperparameters():
    with pytest.raises(InvalidParameterError, match="'l1' parameter .* not a bool"):
        RegularizedMLPRegressor(l1=True).fit(X, Y_REG)
    # Where booleans are meant they stay accepted.
    RegularizedMLPRegressor(verbose=False, shuffle=np.bool_(True), **{**TINY}).fit(X, Y_REG)


def test_unknown_and_unavailable_devices():
    with pytest.raises(ValueError, match="not a torch device"):
        RegularizedMLPClassifier(device="gpu", **TINY).fit(X, Y_CLASS)
    with pytest.raises(ValueError, match="not supported"):
        RegularizedMLPClassifier(device="meta", **TINY).fit(X, Y_CLASS)
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            RegularizedMLPClassifier(device="cuda", **TINY).fit(X, Y_CLASS)


# ---------------------------------------------------------------------- property-based
DTYPES = st.sampled_from([np.float16, np.float32, np.float64, np.int8, np.int32, np.int64,
                          np.uint8, np.bool_])


@st.composite
def datasets(draw):
    n_samples = draw(st.integers(1, 12))
    n_features = draw(st.integers(1, 4))
    dtype = draw(DTYPES)
    elements = None
    if np.issubdtype(dtype, np.floating):
        width = 16 if dtype == np.float16 else 32
        elements = st.floats(allow_nan=True, allow_infinity=True, width=width)
    X = draw(hnp.arrays(dtype, (n_samples, n_features), elements=elements))
    y = draw(hnp.arrays(np.float64, n_samples,
                        elements=st.floats(-1e6, 1e6, allow_nan=False)))
    return X, y


PROPERTY_SETTINGS = settings(max_examples=25, deadline=None, database=None,
                             suppress_health_check=[HealthCheck.too_slow])


def fit_or_clear_error(estimator, X, y):
    """Fit and predict; any failure must be a ValueError/TypeError, any prediction finite."""
    X_before, y_before = X.copy(), y.copy()
    try:
        predictions = estimator.fit(X, y).predict(X)
    except (ValueError, TypeError) as exc:
        assert str(exc)
        predictions = None
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)
    return predictions


@PROPERTY_SETTINGS
@given(data=datasets(), batch_norm=st.booleans(), early_stopping=st.booleans())
def test_regressor_on_arbitrary_arrays(data, batch_norm, early_stopping):
    X, y = data
    model = RegularizedMLPRegressor((3,), max_iter=2, batch_norm=batch_norm,
                                    early_stopping=early_stopping, random_state=0)
    predictions = fit_or_clear_error(model, X, y)
    if predictions is not None:
        assert predictions.shape == (len(X),) and np.isfinite(predictions).all()


@PROPERTY_SETTINGS
@given(data=datasets(), n_classes=st.integers(1, 3))
def test_classifier_on_arbitrary_arrays(data, n_classes):
    X, y = data
    labels = (np.arange(len(X)) % n_classes).astype(str)
    model = RegularizedMLPClassifier((3,), max_iter=2, random_state=0)
    predictions = fit_or_clear_error(model, X, labels)
    if predictions is not None:
        proba = model.predict_proba(X)
        # predict is the most probable class of predict_proba, in the labels' own values.
        np.testing.assert_array_equal(predictions, model.classes_[proba.argmax(axis=1)])
        assert list(model.classes_) == sorted(set(labels))
        assert np.isfinite(proba).all()
        np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)


@pytest.mark.parametrize(
    "sizes, match",
    [
        ([1] * 20000, "20000 layers; skreg builds at most 1000"),
        ((10**5, 10**5), "1e\\+10 weights and biases; skreg builds at most 1e\\+09"),
    ],
)
def test_networks_too_deep_or_too_large_are_refused_before_they_are_built(sizes, match):
    with pytest.raises(ValueError, match=match):
        RegularizedMLPRegressor(sizes, max_iter=1).fit(X, Y_REG)


def test_mc_samples_has_a_documented_bound():
    model = RegularizedMLPRegressor((4,), dropout=0.5, max_iter=1, mc_samples=10**12)
    with pytest.raises(ValueError, match=r"mc_samples.*\[1, 10000\]"):
        model.fit(X, Y_REG)
    model.set_params(mc_samples=10_000).fit(X, Y_REG)
