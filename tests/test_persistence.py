"""Persistence: pickle and joblib round trips, GPU-trained models on CPU machines, and
skreg.save/skreg.load, the path that runs no code from the file."""

import contextlib
import io
import json
import pathlib
import pickle
import subprocess
import sys
import tempfile
import threading
import tracemalloc
import warnings

import joblib
import numpy as np
import pandas as pd
import psutil
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.torch import save_file
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import EpochScoring

import skreg
from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor
from skreg._persistence import write as write_file
from skreg._persistence_fitted import FITTED, NOT_SAVED

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
    """A multiclass classifier, a regressor, a binary and a multilabel classifier, and a
    Poisson regressor fitted by L-BFGS on float32 data."""
    return [
        RegularizedMLPClassifier((8, 4), dropout=[0.1, 0.2], batch_norm=True, early_stopping=True,
                                 max_iter=4, random_state=0).fit(X, LABELS),
        RegularizedMLPRegressor((8,), solver="sgd", l1=1e-3, l2=1e-3, max_iter=3,
                                random_state=0).fit(X.to_numpy(), TARGETS),
        RegularizedMLPClassifier((8,), l2=1e-3, class_weight="balanced", max_iter=3,
                                 random_state=0).fit(X, BINARY_LABELS),
        RegularizedMLPClassifier((8,), dropout=0.1, early_stopping=True, max_iter=4,
                                 random_state=0).fit(X, INDICATOR),
        RegularizedMLPRegressor((8,), loss="poisson", solver="lbfgs", max_iter=5,
                                random_state=0).fit(X.astype(np.float32), np.abs(TARGETS)),
    ]


def assert_same_model(loaded, original):
    assert type(loaded) is type(original)
    assert loaded.get_params() == original.get_params()
    for name, value in vars(original).items():
        if name in FITTED:
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


@pytest.mark.slow
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


def read_file(path):
    with safe_open(str(path), framework="pt") as f:
        names = list(f.keys())
        return json.loads(f.metadata()["skreg"]), {k: f.get_tensor(k) for k in names}


def rewrite_header(path, change):
    """Edit a saved file's header as its author could: the checksum is recomputed."""
    header, tensors = read_file(path)
    change(header)
    write_file(path, header, tensors)


def assert_refused(path, match, error=ValueError):
    with pytest.raises(error, match=match) as info:
        skreg.load(path)
    assert str(path) in str(info.value)


class WritesAFileWhenUnpickled:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("tamper, match", [
    (lambda h: h.update(estimator="sklearn.pipeline.Pipeline"), "only builds"),
    (lambda h: h.update(format_version=99), "format_version is 99; .* reads file formats 2 and 3"),
    (lambda h: h.update(format_version=2), r"files of format 2 hold \['skreg'\]"),
    (lambda h: h["fitted"].update({"__class__": 1}), "fitted.__class__ is not a fitted attr"),
    (lambda h: h["params"].update(hidden_layer_sizes={"__tuple__": [5, 4]}), "imply shape"),
    (lambda h: h["params"].update(dropout=7), "params are invalid.*dropout"),
    (lambda h: h["params"].update(surprise=1), "params.surprise is not a parameter"),
    (lambda h: h["fitted"].update(classes_={"__ndarray__": [1], "dtype": "|V8", "shape": [1]}),
     "fitted.classes_.dtype .*unsupported dtype"),
    (lambda h: h["fitted"].update(classes_={"__reduce__": "os.system"}), "unknown JSON object"),
    (lambda h: h.pop("net"), "net is missing"),
])
def test_load_refuses_tampered_files(models, tmp_path, tamper, match):
    path = tmp_path / "m.safetensors"
    skreg.save(models[0], path)
    rewrite_header(path, tamper)
    assert_refused(path, match)


@pytest.mark.parametrize("index, tamper, match", [
    (0, lambda h: h["fitted"].update(n_outputs_=2),
     "fitted.n_outputs_ .*softmax output needs one logit for each of 3 or more classes, got 2"),
    (0, lambda h: h["fitted"].update(out_activation_="logistic"),
     "fitted.n_outputs_ .*multilabel outputs need"),
    (2, lambda h: h["fitted"]["classes_"].update(__ndarray__=["a", "b", "c"], shape=[3]),
     "fitted.n_outputs_ .*binary output needs 2 classes"),
    (3, lambda h: h["fitted"]["classes_"].update(__ndarray__=[0, 1, 2, 3], shape=[4]),
     r"multilabel outputs need classes_ 0..2, got \[0, 1, 2, 3\]"),
    (2, lambda h: h["fitted"].update(out_activation_="softmax"), "softmax output needs"),
    (1, lambda h: h["fitted"].update(n_outputs_=1), r"fitted.y_mean_ must be .* shape \(1,\)"),
    (1, lambda h: h["fitted"].update(out_activation_="exp"), "fitted.out_activation_ must be"),
    (2, lambda h: h["fitted"].pop("out_activation_"), "fitted.out_activation_ is missing"),
    (2, lambda h: h["fitted"].update(n_outputs_=3, out_activation_="logistic"),
     "multilabel outputs need classes_ 0..2"),
])
def test_load_checks_the_network_outputs_against_the_fitted_attributes(
    models, tmp_path, index, tamper, match
):
    path = saved(models[index], tmp_path / "m.safetensors")
    rewrite_header(path, tamper)
    assert_refused(path, match)


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


# ---------------------------------------------------------------------- what load checks
LIMIT = 100 * 2**20  # what loading a file of a few kilobytes may take, at most


@contextlib.contextmanager
def peak_memory():
    """Peak growth of resident memory (sampled) and of traced Python and numpy allocations."""
    process = psutil.Process()
    base = process.memory_info().rss
    peak = {"rss": 0}
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak["rss"] = max(peak["rss"], process.memory_info().rss - base)
            stop.wait(0.001)

    sampler = threading.Thread(target=sample)
    tracemalloc.start()
    sampler.start()
    try:
        yield peak
    finally:
        stop.set()
        sampler.join()
        peak["rss"] = max(peak["rss"], process.memory_info().rss - base)
        peak["traced"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def saved(model, path):
    skreg.save(model, path)
    return path


def set_fitted(name, value):
    return lambda h: h["fitted"].update({name: value})


def ndarray(items, dtype, shape=None):
    return {"__ndarray__": items, "dtype": dtype, "shape": [len(items)] if shape is None else shape}


@pytest.mark.parametrize("model_index, tamper, match", [
    # Sizes that the tensors must match: refused before anything is allocated.
    (0, lambda h: h["params"].update(hidden_layer_sizes={"__tuple__": [10**8, 4]}),
     "params.hidden_layer_sizes with n_features_in_ and n_outputs_ imply 900000019 weights"),
    (0, lambda h: h["params"].update(hidden_layer_sizes={"__tuple__": [10**9, 4]}),
     "params.hidden_layer_sizes is invalid: .* skreg builds at most 1e.09"),
    (1, set_fitted("n_features_in_", 10**8), "imply 800000026 weights and biases, but .* hold 58"),
    (0, set_fitted("classes_", ndarray(["cat", "dog", "eel"], "<U200000000")),
     "fitted.classes_.dtype is <U200000000"),
    (1, lambda h: (h["params"].update(hidden_layer_sizes=[2] * 500),
                   h["fitted"].update(n_layers_=502)), "more layers than"),
])
def test_load_allocates_nothing_a_header_claims_before_checking_it(models, tmp_path, model_index,
                                                                  tamper, match):
    path = saved(models[model_index], tmp_path / "m.safetensors")
    rewrite_header(path, tamper)
    with peak_memory() as peak:
        assert_refused(path, match)
    assert peak["rss"] < LIMIT and peak["traced"] < LIMIT, peak


def three_outputs(h):
    h["fitted"]["classes_"] = ndarray(["cat", "dog", "eel", "fox"], "<U3")


@pytest.mark.parametrize("model_index, tamper, match", [
    (1, set_fitted("y_scale_", ndarray([float("nan"), 1.0], "<f8")),
     "fitted.y_scale_ must hold positive and finite values"),
    (1, set_fitted("y_scale_", ndarray([0.0, 1.0], "<f8")), "fitted.y_scale_ must hold positive"),
    (1, set_fitted("y_mean_", ndarray([0.0, 1.0, 2.0], "<f8")),
     r"fitted.y_mean_ must be a float array of shape \(2,\)"),
    (1, set_fitted("n_outputs_", 1), "fitted.y_mean_ must be a float array of shape"),
    (0, set_fitted("classes_", ndarray(["dog", "cat", "eel"], "<U3")),
     "fitted.classes_ must be sorted and unique"),
    (0, set_fitted("classes_", ndarray(["cat", "cat", "eel"], "<U3")),
     "fitted.classes_ must be sorted and unique"),
    (0, three_outputs, "fitted.n_outputs_ .* got 3 outputs for 4 classes"),
    (0, lambda h: (three_outputs(h), h["fitted"].update(n_outputs_=4)),
     "tensor module.output.weight has shape .3, 4. .* imply shape .4, 4."),
    (0, set_fitted("classes_", ndarray([1.0, float("nan"), 3.0], "<f8")), "NaN"),
    (0, lambda h: h["fitted"].pop("classes_"), "fitted.classes_ is missing"),
    (0, set_fitted("surprise_", 1), "fitted.surprise_ is not a fitted attribute"),
    (0, set_fitted("n_iter_", -1), "fitted.n_iter_ must be an integer from 0 to 4, got -1"),
    (0, set_fitted("n_iter_", 5), "fitted.n_iter_ must be an integer from 0 to 4, got 5"),
    (0, lambda h: h["net"]["history"].pop(), "fitted.n_iter_ must be an integer from 0 to 3"),
    (1, lambda h: h["net"]["history"][-1].update(train_loss=0.5),
     "fitted.loss_curve_ differs from the training losses in the history"),
    (1, set_fitted("loss_", float("nan")), "fitted.loss_ must be a finite float"),
    (1, set_fitted("t_", -1), "fitted.t_ must be an integer >= 0"),
    (1, set_fitted("_no_improvement_count", 9), "_no_improvement_count must be .* from 0 to 3"),
    (1, set_fitted("_coefs_dtype", "float16"), "fitted._coefs_dtype must be one of"),
    (1, lambda h: h["fitted"].pop("_coefs_dtype"), "fitted._coefs_dtype is missing"),
    (1, set_fitted("n_layers_", 4), "fitted.n_layers_ must be 3"),
    (1, set_fitted("validation_scores_", [0.5] * 3), "scores_ is set, but early_stopping is off"),
    (1, set_fitted("best_loss_", None), "fitted.best_loss_ must be a finite float"),
    (0, set_fitted("best_loss_", 0.5), "fitted.best_loss_ must be None with validation scores"),
    (0, set_fitted("validation_scores_", None), "fitted.best_epoch_ is set, but validation"),
    (2, set_fitted("classes_", ndarray([0, "a"], "|O")), "fitted.classes_ holds labels that"),
    (1, set_fitted("y_mean_", ndarray([1, 2], "<i8")), r"fitted.y_mean_ must be a float array"),
    (1, set_fitted("loss_curve_", [1.0, 2.0]), "fitted.loss_curve_ must be a list of 3"),
    (0, set_fitted("best_epoch_", 0), "fitted.best_epoch_ must be an integer from 1 to 4"),
    (0, set_fitted("best_validation_score_", 2.0), "fitted.best_validation_score_ must be"),
    (0, set_fitted("feature_names_in_", ndarray(["w", "x"], "|O")),
     "fitted.feature_names_in_ must be an object array of 4 strings"),
    (1, set_fitted("best_loss_", float("inf")), "fitted.best_loss_ must be a finite float"),
    (0, lambda h: h["params"].update(n_threads=10**6), "params.n_threads is 1000000"),
    (0, lambda h: h["params"].update(callbacks=["print"]), "params.callbacks is set"),
    (0, lambda h: h["net"].update(batch_size=0), "net.batch_size is 0"),
    (0, lambda h: h["net"].update(seed=-1), "net.seed is -1, not an int32 seed"),
    (0, lambda h: h["net"].update(seed=True), "net.seed is True"),
    (0, lambda h: h["net"]["history"][0].update(epoch=7), r"net.history\[0\] is not the record"),
])
def test_load_checks_every_fitted_attribute(models, tmp_path, model_index, tamper, match):
    path = saved(models[model_index], tmp_path / "m.safetensors")
    rewrite_header(path, tamper)
    assert_refused(path, match)


def set_group(key, value, group=0):
    return lambda h: h["net"]["param_groups"][group].update({key: value})


@pytest.mark.parametrize("model_index, tamper, match", [
    (0, set_group("lr", 1e6), r"net.param_groups\[0\].lr is 1000000.0; .*=0.001"),
    (0, set_group("betas", {"__tuple__": [0.5, 0.999]}), r"net.param_groups\[0\].betas is"),
    (0, set_group("weight_decay", 0.1), r"net.param_groups\[0\].weight_decay is 0.1"),
    (1, set_group("momentum", 0.0), r"net.param_groups\[0\].momentum is 0.0, but .* 0.9"),
    (1, set_group("initial_lr", 0.001), "only a schedule sets it"),
    (1, lambda h: h["net"]["param_groups"].append({"lr": 0.001}), "list of 1 param groups"),
])
def test_load_refuses_optimizer_settings_the_parameters_do_not_give(models, tmp_path,
                                                                    model_index, tamper, match):
    path = saved(models[model_index], tmp_path / "m.safetensors")
    rewrite_header(path, tamper)
    assert_refused(path, match)



def test_files_load_across_torch_releases_that_differ_in_optimizer_keys(models, tmp_path):
    # torch 2.2's Adam has no decoupled_weight_decay; its files lack it, later ones have it.
    path = saved(models[0], tmp_path / "m.safetensors")
    rewrite_header(path, lambda h: h["net"]["param_groups"][0].pop("decoupled_weight_decay", 0))
    assert_same_model(skreg.load(path), models[0])
    rewrite_header(path, set_group("decoupled_weight_decay", True))
    assert_refused(path, r"net.param_groups\[0\].decoupled_weight_decay is True, but .* False")


@pytest.mark.parametrize("model_index, change, match", [
    (0, lambda t: t.update({"optimizer.state.0.exp_avg": torch.zeros(4, 8)}),
     "tensor optimizer.state.0.exp_avg has shape .4, 8. .*parameter 0 needs shape .8, 4."),
    (1, lambda t: t.update({"optimizer.state.9.momentum_buffer": torch.zeros(2)}),
     "is not state of the SGD of 4 parameters"),
    (0, lambda t: t.update({"module.hidden.0.weight": t["module.hidden.0.weight"].double()}),
     "dtype F64"),
    (0, lambda t: t.pop("module.hidden.1.running_var"), "running_var is missing"),
    (0, lambda t: t.update({"extra": torch.zeros(1)}), "tensor extra is not a tensor of"),
    (1, lambda t: t["module.output.bias"].fill_(float("nan")), "output.bias holds NaN"),
    (0, lambda t: t["module.hidden.1.running_var"].fill_(-1.0), "running_var holds negative"),
])
def test_load_checks_the_tensors_against_the_network(models, tmp_path, model_index, change,
                                                     match):
    path = saved(models[model_index], tmp_path / "m.safetensors")
    header, tensors = read_file(path)
    change(tensors)
    write_file(path, header, tensors)
    assert_refused(path, match)


def test_the_checksum_detects_a_flipped_bit(models, tmp_path):
    path = saved(models[1], tmp_path / "m.safetensors")
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x10  # in the last tensor's bytes
    path.write_bytes(bytes(data))
    assert_refused(path, "skreg_sha256 does not match the file's contents")


def test_load_refuses_what_is_not_a_complete_skreg_file(models, tmp_path):
    path = saved(models[1], tmp_path / "m.safetensors")
    full = path.read_bytes()
    assert_refused(tmp_path, "is a directory")
    assert_refused(tmp_path / "missing.safetensors", "No such file", FileNotFoundError)
    for name, content in [("truncated", full[:-40]), ("empty", b""), ("junk", b"\xff" * 64)]:
        (tmp_path / name).write_bytes(content)
        assert_refused(tmp_path / name, "not a safetensors file")
    header, tensors = read_file(path)
    for text, match in [("{not json", "header is not valid JSON"),
                        ("[" * 5000 + "]" * 5000, "header is n")]:
        save_file(tensors, str(path), metadata={"skreg": text, "skreg_sha256": "0" * 64})
        assert_refused(path, match)
    save_file(tensors, str(path), metadata={"skreg": json.dumps(header)})
    assert_refused(path, "metadata has keys")


@pytest.mark.parametrize("params", [
    {"hidden_layer_sizes": range(8, 9), "dropout": pd.Series([0.3])},
    {"hidden_layer_sizes": pd.Series([8, 4]), "dropout": np.array([0.3, 0.1])},
    {"hidden_layer_sizes": np.array([8]), "dropout": np.float64(0.2)},
])
def test_save_stores_array_like_parameters_as_lists(tmp_path, params):
    model = RegularizedMLPRegressor(max_iter=2, mc_samples=8, random_state=0, **params)
    model.fit(X, TARGETS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is replaced by a default
        skreg.save(model, tmp_path / "m.safetensors")
    loaded = skreg.load(tmp_path / "m.safetensors")
    for name, value in params.items():
        expected = np.asarray(value).tolist()
        assert loaded.get_params()[name] == expected, name
    mean, std = model.predict(X, return_std=True)
    loaded_mean, loaded_std = loaded.predict(X, return_std=True)
    np.testing.assert_array_equal(loaded_mean, mean)
    np.testing.assert_array_equal(loaded_std, std)
    assert std.max() > 0


def test_save_refuses_parameters_it_would_have_to_change(tmp_path):
    model = RegularizedMLPRegressor((4,), max_iter=2, random_state=0).fit(X, TARGETS)
    model.set_params(input_noise=object())  # a value no file can hold
    with pytest.raises(TypeError, match="Cannot save the parameter input_noise"):
        skreg.save(model, tmp_path / "m.safetensors")


# ---------------------------------------------------------------------- property-based
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, 2, -1, 10**9, 2**63]), st.floats(), st.text(max_size=8),
)
SPECIAL = st.one_of(
    st.builds(ndarray, st.lists(SCALARS, max_size=4),
              st.sampled_from(["<U200000000", "<U3", "|O", "<f8", "<i8", "|b1", "|V8",
                               "(1000000000,)f8", "<M8", "x"]),
              st.one_of(st.none(), st.lists(st.integers(-2, 10**9), max_size=3))),
    st.builds(lambda v: {"__tuple__": v}, st.lists(SCALARS, max_size=3)),
    st.builds(lambda v: {"__dict__": v}, st.lists(st.lists(SCALARS, min_size=2, max_size=2),
                                                 max_size=2)),
    st.builds(lambda v: {"__reduce__": v}, st.text(max_size=4)),
    st.integers(1, 40).map(lambda depth: json.loads("[" * depth + "]" * depth)),
)
JSON_VALUES = st.recursive(
    SCALARS | SPECIAL,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                               max_size=3),
    max_leaves=6,
)


def json_paths(value, path=()):
    yield path
    items = value.items() if isinstance(value, dict) else enumerate(value) \
        if isinstance(value, list) else ()
    for key, item in items:
        yield from json_paths(item, (*path, key))


def nearby(value, data):
    """A value close to ``value``: most likely to pass the first checks and test later ones."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return data.draw(st.sampled_from([value + 1, value - 1, -value, value * 10, 0,
                                          float("nan"), float(value)]))
    if isinstance(value, str):
        return data.draw(st.sampled_from([value + "x", "", value[::-1]]))
    if isinstance(value, list) and value:
        return data.draw(st.sampled_from([value[:-1], value + value[-1:], value[::-1]]))
    return data.draw(JSON_VALUES)


def mutate_header(header, data):
    path = data.draw(st.sampled_from([p for p in json_paths(header) if p]))
    parent = header
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    action = data.draw(st.sampled_from(["replace", "nearby", "delete", "insert"]))
    if action == "replace":
        parent[key] = data.draw(JSON_VALUES)
    elif action == "nearby":
        parent[key] = nearby(parent[key], data)
    elif action == "delete":
        del parent[key]
    elif isinstance(parent, dict):
        parent[data.draw(st.text(max_size=12))] = data.draw(JSON_VALUES)
    else:
        parent.insert(key, data.draw(JSON_VALUES))
    return path


def mutate_tensors(tensors, data):
    name = data.draw(st.sampled_from(sorted(tensors)))
    tensor = tensors[name]
    action = data.draw(st.sampled_from(["shape", "dtype", "drop", "add", "values"]))
    if action == "shape":
        shape = data.draw(st.lists(st.integers(0, 9), max_size=3))
        tensors[name] = torch.zeros(shape, dtype=tensor.dtype)
    elif action == "dtype":
        dtype = data.draw(st.sampled_from([torch.float64, torch.float16, torch.int64,
                                           torch.int32, torch.bool]))
        tensors[name] = tensor.to(dtype)
    elif action == "drop":
        del tensors[name]
    elif action == "add":
        tensors[data.draw(st.text("abcdefghijklmnopqrstuvwxyz.0123456789_", min_size=1,
                                  max_size=30))] = torch.zeros(2)
    elif tensor.is_floating_point() and tensor.numel():
        tensors[name] = torch.full_like(tensor, data.draw(st.sampled_from(
            [float("nan"), float("inf"), -1.0, 0.0, 1e3])))
    return name


def assert_consistent(model):
    """A loaded model whose outputs have the shapes, values and labels its attributes say."""
    data = X.to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # feature names of a numpy X
        predictions = model.predict(data)
        if isinstance(model, RegularizedMLPClassifier):
            proba = model.predict_proba(data)
            assert proba.shape == (len(data), len(model.classes_))
            if model.out_activation_ == "logistic" and model.n_outputs_ > 1:
                # Multilabel (an edit can make a consistent one): a probability per label.
                assert ((proba >= 0) & (proba <= 1)).all()
                np.testing.assert_array_equal(predictions, (proba > 0.5).astype(int))
            else:
                np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
                assert np.isin(predictions, model.classes_).all()
        else:
            assert predictions.shape == ((len(data),) if model.n_outputs_ == 1
                                         else (len(data), model.n_outputs_))
            assert np.isfinite(predictions).all()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_tampered_files_are_refused_with_a_value_error_or_load_consistent(models, data):
    model = models[data.draw(st.sampled_from(range(len(models))))]
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "m.safetensors"
        skreg.save(model, path)
        header, tensors = read_file(path)
        for _ in range(data.draw(st.integers(1, 3))):
            if data.draw(st.booleans()) or not tensors:
                mutate_header(header, data)
            else:
                mutate_tensors(tensors, data)
        stale = data.draw(st.booleans())
        if stale:  # the checksum of the file as it was saved
            with safe_open(str(path), framework="pt") as f:
                digest = f.metadata()["skreg_sha256"]
            save_file(tensors, str(path), metadata={"skreg": json.dumps(header),
                                                     "skreg_sha256": digest})
        else:  # as an author who recomputes it
            write_file(path, header, tensors)
        assert path.stat().st_size < 64 * 1024
        with peak_memory() as peak:
            try:
                loaded = skreg.load(path)
            except ValueError as exc:
                assert str(path) in str(exc)
                loaded = None
        event("refused" if loaded is None else "loaded")
        assert peak["rss"] < LIMIT and peak["traced"] < LIMIT, peak
        assert loaded is None or not stale
        if loaded is not None:
            assert_consistent(loaded)


# ---------------------------------------------------------------------- what save writes
@pytest.mark.parametrize("estimator, y, changes", [
    (RegularizedMLPClassifier, LABELS, {"hidden_layer_sizes": (16, 16)}),
    (RegularizedMLPClassifier, LABELS, {"activation": "tanh"}),
    (RegularizedMLPClassifier, LABELS, {"batch_norm": True, "dropout": 0.5}),
    (RegularizedMLPClassifier, LABELS, {"dropout": [0.0, 0.3]}),
    (RegularizedMLPClassifier, LABELS, {"solver": "sgd", "weight_decay": 0.1}),
    (RegularizedMLPClassifier, BINARY_LABELS,
     {"learning_rate_init": 0.5, "beta_1": 0.5, "beta_2": 0.5, "epsilon": 1e-3}),
    (RegularizedMLPClassifier, INDICATOR, {"early_stopping": True}),
    (RegularizedMLPRegressor, TARGETS, {"loss": "poisson", "hidden_layer_sizes": 3}),
])
def test_save_after_set_params_writes_the_fitted_network(tmp_path, estimator, y, changes):
    model = estimator((8, 4), dropout=0.2, max_iter=3, mc_samples=4, random_state=0).fit(X, y)
    mean, std = model.predict(X, return_std=True) if estimator is RegularizedMLPRegressor \
        else model.predict_proba(X, return_std=True)
    built = model.get_params()
    model.set_params(**changes)
    skreg.save(model, tmp_path / "m.safetensors")
    loaded = skreg.load(tmp_path / "m.safetensors")
    loaded_mean, loaded_std = loaded.predict(X, return_std=True) \
        if estimator is RegularizedMLPRegressor else loaded.predict_proba(X, return_std=True)
    np.testing.assert_array_equal(loaded_mean, mean)
    np.testing.assert_array_equal(loaded_std, std)
    params = loaded.get_params()
    assert {name: params[name] for name in changes} == {name: built[name] for name in changes}
    # Parameters the network does not hold are saved as set.
    others = {k: v for k, v in model.get_params().items() if k not in changes}
    assert {k: v for k, v in params.items() if k not in changes} == others
    loaded.partial_fit(X, y)  # its optimizer's state fits its parameters


def test_a_loaded_optimizer_trains_at_the_saved_models_rate(models, tmp_path):
    model = models[1]  # sgd, learning_rate_init=0.001
    path = saved(model, tmp_path / "m.safetensors")
    loaded = skreg.load(path)
    groups = loaded.net_.optimizer_.param_groups
    assert [g["lr"] for g in groups] == [loaded.learning_rate_init] == [0.001]
    rewrite_header(path, set_group("lr", 1e6))
    assert_refused(path, r"net.param_groups\[0\].lr is 1000000.0; the parameters give "
                   r"learning_rate_init=0.001")


FITTED_CASES = [
    (RegularizedMLPClassifier((4,), max_iter=2), X, LABELS),
    (RegularizedMLPClassifier((4,), early_stopping=True, max_iter=2), X, BINARY_LABELS),
    (RegularizedMLPClassifier((4,), solver="lbfgs", max_iter=2), X.to_numpy(), INDICATOR),
    (RegularizedMLPRegressor((4,), loss="poisson", max_iter=2), X, np.abs(TARGETS)),
    (RegularizedMLPRegressor((4,), solver="lbfgs", early_stopping=True, max_iter=2), X, TARGETS),
]


@pytest.mark.parametrize("model, X_fit, y", FITTED_CASES)
def test_every_fitted_attribute_has_a_row_in_the_table_of_checks(tmp_path, model, X_fit, y):
    # An attribute that fit sets and the table lacks fails here: give it a row (and a check)
    # in skreg._persistence_fitted.
    unfitted = set(vars(model))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X_fit, y)
    kind = "classifier" if isinstance(model, RegularizedMLPClassifier) else "regressor"
    for name in set(vars(model)) - unfitted:
        assert name in NOT_SAVED or (name in FITTED and kind in FITTED[name].on), name
    with_rows = {name for name, row in FITTED.items() if kind in row.required}
    assert with_rows <= set(vars(model))
    skreg.save(model, tmp_path / "m.safetensors")
    assert_same_model(skreg.load(tmp_path / "m.safetensors"), model)


def test_save_refuses_a_fitted_attribute_the_table_lacks(models, tmp_path):
    model = pickle.loads(pickle.dumps(models[1]))
    model.surprise_ = 1
    with pytest.raises(TypeError, match="fitted attribute surprise_: skreg files do not know"):
        skreg.save(model, tmp_path / "m.safetensors")
    del model.surprise_
    model._own_note = object()  # private attributes of the user's are not saved
    skreg.save(model, tmp_path / "m.safetensors")
    assert not hasattr(skreg.load(tmp_path / "m.safetensors"), "_own_note")


@pytest.mark.parametrize("index, name", [
    *[(0, name) for name in sorted(RegularizedMLPClassifier().get_params())],
    *[(1, name) for name in sorted(RegularizedMLPRegressor().get_params())],
])
def test_load_validates_every_parameter(models, tmp_path, index, name):
    if name == "device":
        pytest.skip("load's device argument replaces the saved device")
    path = saved(models[index], tmp_path / "m.safetensors")
    rewrite_header(path, lambda h: h["params"].update({name: "?"}))
    assert_refused(path, f"params.*{name}")


DATA = pathlib.Path(__file__).parent / "data"


def test_files_of_format_2_load_with_the_checks_of_format_3(tmp_path):
    # Written by skreg's save of format 2 (before the checks, the checksum and _coefs_dtype).
    X_values = X.to_numpy()
    classifier = skreg.load(DATA / "classifier_format2.safetensors")
    np.testing.assert_allclose(classifier.predict_proba(X),
                               np.load(DATA / "classifier_format2_proba.npy"), rtol=1e-6)
    regressor = skreg.load(DATA / "regressor_format2.safetensors")
    np.testing.assert_allclose(regressor.predict(X_values),
                               np.load(DATA / "regressor_format2_pred.npy"), rtol=1e-6)
    assert regressor.coefs_[0].dtype == np.float64
    regressor.partial_fit(X_values, TARGETS)
    path = tmp_path / "m.safetensors"
    for name, change, match in [
        ("regressor", lambda h: h["fitted"].update(y_scale_=ndarray([float("nan"), 1.0], "<f8")),
         "fitted.y_scale_ must hold positive"),
        ("classifier", lambda h: h["net"]["optimizer"]["__dict__"][1][1][0]["__dict__"].append(
            ["lr", 1e6]), r"net.param_groups\[0\].lr is 1000000.0"),
        ("classifier", lambda h: h["net"].pop("optimizer"), "net.optimizer is not the state"),
    ]:
        header, tensors = read_file(DATA / f"{name}_format2.safetensors")
        change(header)
        save_file(tensors, str(path), metadata={"skreg": json.dumps(header)})
        assert_refused(path, match)


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
