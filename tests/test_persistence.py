"""Persistence: pickle and joblib round trips, GPU-trained models on CPU machines, and
skreg.save/skreg.load, the path that runs no code from the file."""

import io
import json
import pickle
import subprocess
import sys
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import EpochScoring

import skreg
from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor

RNG = np.random.RandomState(0)
X = pd.DataFrame(RNG.normal(size=(60, 4)), columns=["w", "x", "y", "z"])
LABELS = np.array(["cat", "dog", "eel"])[RNG.randint(0, 3, 60)]
TARGETS = np.c_[X["w"] + X["x"], X["y"] - X["z"]]
BINARY_LABELS = np.where(LABELS == "cat", "cat", "other")
INDICATOR = np.c_[X["w"] > 0, X["x"] > 0, X["y"] + X["z"] > 0].astype(int)
CUDA = torch.cuda.is_available()


@pytest.fixture(scope="module")
def models():
    """Fitted models that the tests only read."""
    return fitted_models()


def fitted_models():
    """A multiclass classifier, a regressor, a binary and a multilabel classifier."""
    return [
        RegularizedMLPClassifier((8, 4), dropout=[0.1, 0.2], batch_norm=True, early_stopping=True,
                                 max_iter=4, random_state=0).fit(X, LABELS),
        RegularizedMLPRegressor((8,), solver="sgd", l1=1e-3, l2=1e-3, max_iter=3,
                                random_state=0).fit(X.to_numpy(), TARGETS),
        RegularizedMLPClassifier((8,), l2=1e-3, class_weight="balanced", max_iter=3,
                                 random_state=0).fit(X, BINARY_LABELS),
        RegularizedMLPClassifier((8,), dropout=0.1, early_stopping=True, max_iter=4,
                                 random_state=0).fit(X, INDICATOR),
    ]


def assert_same_model(loaded, original):
    assert type(loaded) is type(original)
    assert loaded.get_params() == original.get_params()
    for name, value in vars(original).items():
        if name.endswith("_") and name != "net_":
            copy = getattr(loaded, name)
            assert type(copy) is type(value), name
            if isinstance(value, np.ndarray):
                assert copy.dtype == value.dtype, name
                np.testing.assert_array_equal(copy, value)
            else:
                assert copy == value, name
    X_in = X if hasattr(original, "feature_names_in_") else X.to_numpy()
    np.testing.assert_array_equal(loaded.predict(X_in), original.predict(X_in))


@pytest.mark.parametrize("dumps, loads", [
    (pickle.dumps, pickle.loads),
    (lambda m: _joblib_bytes(m), lambda b: joblib.load(io.BytesIO(b))),
])
def test_pickle_and_joblib_round_trips(models, dumps, loads):
    for model in models:
        assert_same_model(loads(dumps(model)), model)
    unfitted = RegularizedMLPRegressor(dropout=0.3)
    assert loads(dumps(unfitted)).get_params() == unfitted.get_params()


def _joblib_bytes(model):
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    return buffer.getvalue()


@pytest.mark.skipif(CUDA, reason="exercises the loading path of a machine without CUDA")
def test_pickle_of_a_model_trained_on_cuda_loads_on_a_cpu_machine():
    # A net trained on CUDA records device="cuda" and skorch pickles its tensors with their
    # device; on a machine without CUDA, unpickling maps them to the CPU with a warning.
    model = RegularizedMLPRegressor((8,), max_iter=2, random_state=0).fit(X, TARGETS)
    expected = model.predict(X)
    model.device = model.net_.device = "cuda"
    with pytest.warns(UserWarning, match="no CUDA devices are available"):
        loaded = pickle.loads(pickle.dumps(model))
    assert next(loaded.net_.module_.parameters()).device.type == "cpu"
    np.testing.assert_array_equal(loaded.predict(X), expected)
    with pytest.raises(ValueError, match="CUDA is not available"):
        loaded.fit(X, TARGETS)
    loaded.set_params(device="cpu").fit(X, TARGETS)


LOAD_ON_CPU = """
import pickle, sys, numpy as np, torch, skreg
assert not torch.cuda.is_available()
model = pickle.load(open(sys.argv[1], "rb"))
saved = skreg.load(sys.argv[2])
X = np.load(sys.argv[3])
np.save(sys.argv[4], np.stack([model.predict(X), saved.predict(X)]))
"""


@pytest.mark.skipif(not CUDA, reason="needs CUDA to train the model that is then loaded on CPU")
def test_model_fitted_on_cuda_predicts_in_a_cpu_only_process(tmp_path):
    data = X.to_numpy()
    model = RegularizedMLPRegressor((16,), max_iter=5, device="cuda", random_state=0)
    model.fit(data, TARGETS)
    with open(tmp_path / "model.pkl", "wb") as f:
        pickle.dump(model, f)
    skreg.save(model, tmp_path / "model.safetensors")
    np.save(tmp_path / "X.npy", data)
    subprocess.run(
        [sys.executable, "-c", LOAD_ON_CPU, str(tmp_path / "model.pkl"),
         str(tmp_path / "model.safetensors"), str(tmp_path / "X.npy"), str(tmp_path / "out.npy")],
        check=True, env={**_env(), "CUDA_VISIBLE_DEVICES": ""},
    )
    from_pickle, from_save = np.load(tmp_path / "out.npy")
    np.testing.assert_allclose(from_pickle, model.predict(data), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(from_pickle, from_save)


def _env():
    import os

    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


# ---------------------------------------------------------------------- skreg.save / load
def test_save_and_load_round_trip(models, tmp_path):
    for i, model in enumerate(models):
        path = tmp_path / f"model{i}.safetensors"
        skreg.save(model, path)
        torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
        loaded = skreg.load(path)
        assert torch.equal(torch.get_rng_state(), torch_state)
        assert np.array_equal(np.random.get_state()[1], numpy_state[1])
        assert_same_model(loaded, model)
        assert loaded.net_.history.to_list() == model.net_.history.to_list()


@pytest.mark.parametrize("random_state", [0, None])
@pytest.mark.parametrize("y, n_outputs, out_activation", [
    (LABELS, 3, "softmax"), (BINARY_LABELS, 1, "logistic"), (INDICATOR, 3, "logistic"),
], ids=["multiclass", "binary", "multilabel"])
def test_loaded_model_goes_on_training_exactly_like_the_original(
    tmp_path, y, n_outputs, out_activation, random_state
):
    # The file keeps the seed that continued training draws from, also for a seed that
    # random_state=None drew.
    model = RegularizedMLPClassifier(
        (8,), dropout=0.2, max_iter=3, warm_start=True, random_state=random_state
    )
    model.fit(X, y)
    skreg.save(model, tmp_path / "m.safetensors")
    loaded = skreg.load(tmp_path / "m.safetensors")
    assert loaded.n_outputs_ == n_outputs and loaded.out_activation_ == out_activation
    assert loaded.net_.module_.output.out_features == n_outputs
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    model.fit(X, y)
    loaded.fit(X, y)
    assert loaded.n_iter_ == model.n_iter_ == 3 and len(loaded.loss_curve_) == 6
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_save_warns_about_parameters_it_cannot_store_and_refuses_others(tmp_path):
    model = RegularizedMLPRegressor(
        (4,), max_iter=2, random_state=np.random.RandomState(0),
        callbacks=[EpochScoring("r2", lower_is_better=False)],
    ).fit(X, TARGETS)
    with pytest.warns(UserWarning, match="callbacks, random_state"):
        skreg.save(model, tmp_path / "m.safetensors")
    loaded = skreg.load(tmp_path / "m.safetensors")
    assert loaded.callbacks is None and loaded.random_state is None
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    with pytest.raises(NotFittedError):
        skreg.save(RegularizedMLPRegressor(), tmp_path / "unfitted.safetensors")
    with pytest.raises(TypeError, match="saves RegularizedMLPClassifier"):
        skreg.save(StandardScaler().fit(X), tmp_path / "scaler.safetensors")


def test_load_places_the_model_on_the_requested_device(models, tmp_path):
    model = models[1]
    skreg.save(model, tmp_path / "m.safetensors")
    if not CUDA:
        with pytest.raises(ValueError, match="CUDA is not available"):
            skreg.load(tmp_path / "m.safetensors", device="cuda")
    loaded = skreg.load(tmp_path / "m.safetensors", device="cpu")
    assert loaded.device == "cpu"


def rewrite_header(path, change):
    with safe_open(str(path), framework="pt") as f:
        header = json.loads(f.metadata()["skreg"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    change(header)
    save_file(tensors, str(path), metadata={"skreg": json.dumps(header)})


class WritesAFileWhenUnpickled:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("tamper, match", [
    (lambda h: h.update(estimator="sklearn.pipeline.Pipeline"), "only builds"),
    (lambda h: h.update(format_version=99), "file format 99"),
    (lambda h: h["fitted"].update({"__class__": 1}), "invalid attribute name"),
    (lambda h: h["params"].update(hidden_layer_sizes={"__tuple__": [5, 4]}), "do not fit"),
    (lambda h: h["params"].update(dropout=7), "malformed"),
    (lambda h: h["params"].update(surprise=1), "malformed"),
    (lambda h: h["fitted"].update(classes_={"__ndarray__": [1], "dtype": "|V8", "shape": [1]}),
     "unsupported dtype"),
    (lambda h: h["fitted"].update(classes_={"__reduce__": "os.system"}), "unknown JSON object"),
    (lambda h: h.pop("net"), "malformed"),
])
def test_load_refuses_tampered_files(models, tmp_path, tamper, match):
    path = tmp_path / "m.safetensors"
    skreg.save(models[0], path)
    rewrite_header(path, tamper)
    with pytest.raises(ValueError, match=match):
        skreg.load(path)


@pytest.mark.parametrize("index, tamper, match", [
    (0, lambda h: h["fitted"].update(n_outputs_=2), "network has 3 outputs but n_outputs_=2"),
    (0, lambda h: h["fitted"].update(out_activation_="logistic"), "multilabel outputs need"),
    (2, lambda h: h["fitted"]["classes_"].update(__ndarray__=["a", "b", "c"], shape=[3]),
     "binary output needs 2 classes"),
    (3, lambda h: h["fitted"]["classes_"].update(__ndarray__=[0, 1, 2, 3], shape=[4]),
     r"multilabel outputs need classes_ 0..2, got \[0, 1, 2, 3\]"),
    (2, lambda h: h["fitted"].update(out_activation_="softmax"), "softmax output needs"),
    (1, lambda h: h["fitted"].update(n_outputs_=1), "network has 2 outputs but n_outputs_=1"),
    (2, lambda h: h["fitted"].pop("out_activation_"), "malformed"),
    (2, lambda h: h.update(format_version=1), "file format 1"),
])
def test_load_checks_the_network_outputs_against_the_fitted_attributes(
    models, tmp_path, index, tamper, match
):
    path = tmp_path / "m.safetensors"
    skreg.save(models[index], path)
    rewrite_header(path, tamper)
    with pytest.raises(ValueError, match=match):
        skreg.load(path)


def test_load_never_unpickles(tmp_path):
    marker = tmp_path / "code-ran"
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps(WritesAFileWhenUnpickled(str(marker))))
    with pytest.raises(ValueError, match="not a safetensors file"):
        skreg.load(pickled)
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(plain))
    with pytest.raises(ValueError, match="no skreg header"):
        skreg.load(plain)
    assert not marker.exists()
    # The same bytes through pickle do run code: the reason for the trust model.
    with warnings.catch_warnings():
        pickle.loads(pickled.read_bytes()).close()
    assert marker.exists()


def test_save_and_load_keep_the_training_features_parameters(tmp_path):
    labels = np.where(LABELS == LABELS[0], 7, 3)
    model = RegularizedMLPClassifier(
        (8,), dropout=0.2, class_weight={7: 2.0}, mixup_alpha=0.2, weight_decay=0.01,
        learning_rate="cosine", mc_samples=5, max_iter=3, random_state=0,
    ).fit(X, labels)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every parameter is stored, none dropped
        skreg.save(model, tmp_path / "m.safetensors")
    loaded = skreg.load(tmp_path / "m.safetensors")
    assert loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(
        loaded.predict_proba(X, return_std=True)[1], model.predict_proba(X, return_std=True)[1]
    )
    loaded.partial_fit(X, labels)
    assert loaded.n_iter_ == 1 and len(loaded.loss_curve_) == len(model.loss_curve_) + 1


def test_save_and_load_keep_residual_averaging_and_schedules(tmp_path):
    model = RegularizedMLPRegressor(
        (8, 8), residual=True, swa_start=0.5, batch_norm=True, dropout=0.2, weight_decay=0.01,
        dropout_schedule="flat_cos", weight_decay_schedule="cos", max_iter=4,
        n_iter_no_change=np.inf, warm_start=True, random_state=0,
    ).fit(X.to_numpy(), TARGETS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every parameter is stored, none dropped
        skreg.save(model, tmp_path / "m.safetensors")
    loaded = skreg.load(tmp_path / "m.safetensors")
    assert loaded.get_params() == model.get_params()
    assert loaded.net_.module_.skips == model.net_.module_.skips == [(4, 8)]
    assert_same_model(loaded, model)
    # Continued training: the schedules go on from the saved history, averaging restarts.
    model.fit(X.to_numpy(), TARGETS)
    loaded.fit(X.to_numpy(), TARGETS)
    np.testing.assert_array_equal(loaded.predict(X.to_numpy()), model.predict(X.to_numpy()))
    assert dict(loaded.net_.callbacks_)["swa"].first_averaged_epoch_ == 7
