"""Saving and loading fitted skreg estimators without pickle.

Trust model
-----------
``pickle``, ``joblib`` and ``torch.load(weights_only=False)`` rebuild objects
by calling functions named in the file, so loading a file can run any code its
author chose: only unpickle files that you (or someone you trust) wrote.
skops does not change that for skreg models: skorch stores a net's modules and
optimizer as a pickle inside its own state, which skops hands to skorch's
unpickler on load.

:func:`save` and :func:`load` exchange models with people you do not trust. The
file is a `safetensors <https://huggingface.co/docs/safetensors>`_ file: the
module's weights and the optimizer's state are raw tensors, and everything else
(class name, constructor parameters, fitted attributes such as ``classes_``,
the optimizer's hyperparameters, the training history) is JSON in the file's
header. No code from the file is run, and :func:`load` checks the whole file
before it builds anything (``skreg._persistence_checks`` and
``skreg._persistence_fitted``):

* the header's size, nesting depth, string lengths, array sizes and dtypes are
  bounded, and only skreg's two estimators can be named;
* the parameters are checked against the constraints ``fit`` validates; the
  network they describe may have no more weights than the file's tensors hold,
  and every tensor it implies (layer widths from ``hidden_layer_sizes``, ``n_features_in_``
  and ``n_outputs_``, batch-norm buffers, the optimizer's state) must be in the
  file with that shape and dtype, and no other tensor may be, so loading
  allocates about what the file holds, never what its header claims;
* each fitted attribute is checked for type, shape, range and consistency with
  the parameters, the other attributes and the history (``classes_`` sorted and
  unique and fitting the output layer, ``y_scale_`` positive, ``loss_curve_`` the
  history's losses, ...); names skreg does not set are refused;
* the optimizer's hyperparameters must be those the parameters give (the
  learning rate may only have been lowered by a schedule);
* the tensors must be finite, and match the file's SHA-256 checksum.

Any failure is a ``ValueError`` naming the file and the field. A missing file is
a ``FileNotFoundError`` (as for ``open``, ``pickle`` and ``joblib``).

The checksum (SHA-256 of the header's JSON text and of every tensor's name,
dtype, shape and bytes) detects accidental corruption, such as a flipped bit in
a weight; it cannot detect deliberate changes, since whoever edits a file can
recompute it. What the checks cannot catch either: a file that passes them is a
consistent model, but its weights and labels are whatever its author chose, so
it may predict anything, and its parameters are any that the constructor
accepts (fit may still refuse their combination, lbfgs with dropout say).
"""

import json
import os
import re
import warnings
from numbers import Integral
from types import SimpleNamespace

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from sklearn.utils.validation import check_is_fitted
from skorch.history import History

from . import _persistence_checks as checks
from ._classifier import RegularizedMLPClassifier
from ._device import resolve_device
from ._docs import PERSISTENCE_EXAMPLES
from ._persistence_checks import checksum
from ._persistence_fitted import FITTED, NOT_SAVED, check_fitted
from ._regressor import RegularizedMLPRegressor

FORMAT = "skreg"
# 2: a binary classifier's network has one logistic output (in 1 it had two softmax
# outputs), and classifiers store n_outputs_ and out_activation_.
# 3: the optimizer's hyperparameters are net.param_groups (not a JSON tree of its state
# dict), the file has a checksum, and _coefs_dtype is saved. Format-2 files still load,
# with every check of format 3 but the checksum.
FORMAT_VERSION = 3
CHECKSUM = "skreg_sha256"
ESTIMATORS = {cls.__name__: cls for cls in (RegularizedMLPClassifier, RegularizedMLPRegressor)}
FITTED_NAME = re.compile(r"^[a-z][a-z0-9_]*_$")
HEADER_KEYS = {"format", "format_version", "estimator", "params", "fitted", "net"}
NET_KEYS = {"batch_size", "seed", "param_groups", "history"}
# A batch size larger than any training set; real files hold at most the parameter's.
MAX_BATCH_SIZE = 2**40
# Parameters that save may store as their default: they do not change the saved network.
DROPPABLE = {"callbacks": "callbacks only run during training",
             "random_state": "a RandomState cannot be stored: the loaded model's Monte Carlo "
                             "passes (return_std=True) draw new seeds"}


class _Unencodable(TypeError):
    pass


def _encode(value):
    """JSON-ready form of parameters and fitted attributes; tuples and arrays are tagged."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.generic, int, float)):
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):  # e.g. class_weight; keys may be labels of any JSON type
        return {"__dict__": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            items = [_encode(v) for v in value.ravel().tolist()]
        elif value.dtype.kind in "biufU":
            items = value.ravel().tolist()
        else:
            raise _Unencodable(f"an array of dtype {value.dtype}")
        return {"__ndarray__": items, "dtype": value.dtype.str, "shape": list(value.shape)}
    raise _Unencodable(f"a {type(value).__name__}")


def _encode_param(value):
    """A parameter's JSON form; other array-likes (a range, a pandas Series) as plain lists."""
    if isinstance(value, (range, np.ndarray)) or hasattr(value, "__array__"):
        array = np.asarray(value)
        if array.dtype.kind in "biuf":
            return _encode(array.tolist())
    return _encode(value)


def _same(a, b):
    """Whether two parameter values give the same network setting (``(8,)`` and ``[8]`` do)."""
    try:
        return bool(np.array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float)))
    except (TypeError, ValueError):
        return a == b


def _held_params(estimator):
    """The parameters, with the fitted network's values where it holds them.

    The network keeps the layers it was built with and its optimizer's settings;
    a ``set_params`` since the fit has not reached them. For those parameters the
    network's values are returned (a parameter that agrees with them is kept as
    it is), so that the file describes the fitted model: it loads into one that
    predicts as the fitted one, and its optimizer's settings match its parameters.
    """
    params = estimator.get_params(deep=False)
    net = estimator.net_
    group = net.optimizer_.param_groups[0]
    rates = list(net.module__dropout)
    held = {
        "hidden_layer_sizes": tuple(net.module__hidden_layer_sizes),
        "activation": net.module__activation,
        "batch_norm": net.module__batch_norm,
        "dropout": rates,
        "weight_decay": net.weight_decay,
        "learning_rate_init": net.lr,
    }
    sgd = issubclass(net.optimizer, torch.optim.SGD)
    # An L-BFGS fit keeps an (unused) Adam, so "lbfgs" stands where the net has Adam.
    if sgd != (params["solver"] == "sgd"):
        held["solver"] = "sgd" if sgd else "adam"
    if sgd:
        held["momentum"] = group["momentum"]
        if group["momentum"] > 0:
            held["nesterovs_momentum"] = group["nesterov"]
    else:
        held["beta_1"], held["beta_2"] = group["betas"]
        held["epsilon"] = group["eps"]
    if not estimator._is_classifier:
        held["loss"] = "poisson" if estimator.out_activation_ == "exp" else "squared_error"
    # Whether the fit held out rows: its validation scores say (L-BFGS ignores the parameter).
    if estimator.validation_scores_ is not None or held.get("solver", params["solver"]) != "lbfgs":
        held["early_stopping"] = estimator.validation_scores_ is not None
    current = {"hidden_layer_sizes": _or_none(estimator._hidden_sizes)}
    if current["hidden_layer_sizes"] is not None:
        current["dropout"] = _or_none(
            lambda: estimator._dropout_rates(len(current["hidden_layer_sizes"])))
    for name, value in held.items():
        if not _same(current.get(name, params[name]), value):
            params[name] = value
    if params["dropout"] is rates and len(set(rates)) == 1:
        params["dropout"] = rates[0]  # one rate for every layer, as it is usually given
    return params


def _or_none(function):
    try:
        return function()
    except (TypeError, ValueError):
        return None


def _encode_params(estimator):
    """Constructor parameters; callbacks and a RandomState are saved as defaults, with a warning."""
    defaults = type(estimator)().get_params(deep=False)
    params, dropped = {}, []
    for name, value in _held_params(estimator).items():
        try:
            params[name] = _encode_param(value)
        except _Unencodable as exc:
            if name not in DROPPABLE:
                raise TypeError(f"Cannot save the parameter {name}: it is {exc}.") from exc
            params[name] = _encode(defaults[name])
            dropped.append(name)
    if dropped:
        warnings.warn(
            f"skreg.save stores only plain values; {', '.join(dropped)} were saved as their "
            f"defaults ({'; '.join(DROPPABLE[name] for name in dropped)}).",
            UserWarning,
            stacklevel=3,
        )
    return params


def _encode_fitted(estimator):
    """The fitted attributes' JSON forms; one the table of checks lacks cannot be saved."""
    params = estimator.get_params(deep=False)
    fitted = {}
    for name, value in vars(estimator).items():
        if name in NOT_SAVED or name in params:
            continue
        row = FITTED.get(name)
        if row is None:
            if FITTED_NAME.match(name):
                raise TypeError(f"Cannot save the fitted attribute {name}: skreg files do not "
                                "know it (skreg._persistence_fitted has no row for it).")
            continue  # the user's own private attributes
        try:
            fitted[name] = _encode(value if row.dump is None else row.dump(value))
        except _Unencodable as exc:
            raise TypeError(f"Cannot save the fitted attribute {name}: it is {exc}.") from exc
    return fitted


def write(path, header, tensors):
    """Write a skreg file: the header as JSON, its checksum, and the tensors."""
    header_json = json.dumps(header)
    metadata = {FORMAT: header_json, CHECKSUM: checksum(header_json, tensors)}
    save_file(tensors, os.fspath(path), metadata=metadata)


def save(estimator, path):
    """Save a fitted skreg estimator to a safetensors file that loads without running code.

    The file holds the network's weights, the optimizer's state and settings,
    the constructor parameters, the fitted attributes and the training history,
    so that :func:`load` gives a model with the same predictions which can also
    go on training (``warm_start``). Tensors are stored on the CPU, so a model
    fitted on a GPU loads on any machine.

    Parameters
    ----------
    estimator : RegularizedMLPClassifier or RegularizedMLPRegressor
        A fitted estimator. Array-like parameters (a ``range`` or a pandas
        Series as ``hidden_layer_sizes``, say) are stored as lists.
        ``callbacks`` and a ``RandomState`` as ``random_state`` are not plain
        values: they are saved as their defaults, with a warning. The
        parameters the fitted network holds (``hidden_layer_sizes``,
        ``activation``, ``batch_norm``, ``dropout``, the regressor's ``loss``,
        ``early_stopping`` (whether the fit recorded validation scores), and the
        optimizer's ``solver``, ``learning_rate_init``, ``weight_decay``,
        ``momentum``, ``nesterovs_momentum``, ``beta_1``, ``beta_2`` and
        ``epsilon``) are saved as it holds them, even after ``set_params``, so
        that the file loads into a model that predicts as the fitted one.
    path : str or os.PathLike
        File to write (conventionally ending in ``.safetensors``).

    Raises
    ------
    TypeError
        If ``estimator`` is not a skreg estimator, or holds a parameter or
        fitted attribute that cannot be stored.

    See Also
    --------
    load : Read such a file back.

{examples}    """
    if type(estimator) not in ESTIMATORS.values():
        raise TypeError(
            f"skreg.save saves RegularizedMLPClassifier and RegularizedMLPRegressor objects, "
            f"got {type(estimator).__name__}."
        )
    check_is_fitted(estimator)
    net = estimator.net_
    tensors = {f"module.{k}": v.detach().cpu().contiguous()
               for k, v in net.module_.state_dict().items()}
    optimizer_state = net.optimizer_.state_dict()
    for i, state in optimizer_state["state"].items():
        for key, value in state.items():
            if value is not None:
                tensors[f"optimizer.state.{i}.{key}"] = value.detach().cpu().contiguous()
    param_groups = [{key: _encode(value) for key, value in group.items()}
                    for group in optimizer_state["param_groups"]]
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": type(estimator).__name__,
        "params": _encode_params(estimator),
        "fitted": _encode_fitted(estimator),
        "net": {
            "batch_size": net.batch_size,
            "seed": net.seed,
            "param_groups": param_groups,
            "history": json.loads(json.dumps(net.history.to_list(), default=_json_number)),
        },
    }
    write(path, header, tensors)


def _json_number(value):
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"The history holds a {type(value).__name__}, which cannot be saved.")


def load(path, device="cpu"):
    """Load an estimator written by :func:`save`; nothing in the file is executed.

    The whole file is checked before the network is built (see the trust model
    in ``skreg._persistence``): its header must describe a consistent model
    whose every tensor is in the file, and the file's checksum must match.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`save`.
    device : str, default="cpu"
        Torch device for the network; it also becomes the estimator's ``device``
        parameter. The default works on every machine, whatever device the
        model was trained on.

    Returns
    -------
    estimator : RegularizedMLPClassifier or RegularizedMLPRegressor
        Fitted, with the saved parameters, fitted attributes and history.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist (``PermissionError`` if it cannot be read).
    ValueError
        If the file is not a complete file written by :func:`save` (a
        directory, a truncated file, another format or format version, a
        header that is not JSON), fails a check, or does not match its
        checksum (files of format 2, written by earlier versions, have none).
        The message names the file and the field.

    See Also
    --------
    save : Write such a file.

{examples}    """
    torch_device = resolve_device(device)
    name = os.fspath(path)
    if os.path.isdir(name):
        raise ValueError(f"{name} is a directory, not a file written by skreg.save.")
    try:
        with safe_open(name, framework="pt", device="cpu") as f:
            metadata, parsed, index = _read_header(f, name)
            plan = _check(metadata, parsed, index, device, torch_device)
            tensors = {key: f.get_tensor(key) for key in index}
    except FileNotFoundError:
        raise FileNotFoundError(f"No such file: {name}") from None
    except PermissionError:
        raise
    except (SafetensorError, OSError) as exc:
        raise ValueError(f"{name} is not a safetensors file written by skreg.save: {exc}") from exc
    except checks.Rejected as exc:
        raise ValueError(f"{name} is not a valid skreg file: {exc}") from None
    try:
        if CHECKSUM in metadata and checksum(metadata[FORMAT], tensors) != metadata[CHECKSUM]:
            raise checks.Rejected(CHECKSUM, "does not match the file's contents: the file is "
                                  "corrupted or was changed after it was written.")
        checks.check_tensor_values(tensors)
    except checks.Rejected as exc:
        raise ValueError(f"{name} is not a valid skreg file: {exc}") from None
    return _build(plan, tensors)


def _read_header(f, name):
    """The metadata, the parsed header and the tensor index (name -> (shape, dtype))."""
    metadata = f.metadata() or {}
    if FORMAT not in metadata:
        raise ValueError(f"{name} is not a file written by skreg.save (no skreg header).")
    if len(metadata[FORMAT]) > checks.MAX_HEADER_BYTES:
        raise checks.Rejected("header", f"is larger than {checks.MAX_HEADER_BYTES} bytes.")
    try:
        parsed = json.loads(metadata[FORMAT])
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise checks.Rejected("header", f"is not valid JSON: {exc}") from None
    keys = list(f.keys())
    if len(keys) > checks.MAX_TENSORS:
        raise checks.Rejected("tensors", f"are {len(keys)}, more than {checks.MAX_TENSORS}.")
    index = {}
    for key in keys:
        tensor = f.get_slice(key)
        index[key] = (list(tensor.get_shape()), tensor.get_dtype())
    return metadata, parsed, index


def _check_metadata(metadata, parsed):
    """The header in format 3's layout; format-2 files have no checksum to check."""
    version = parsed.get("format_version")
    if version not in (2, FORMAT_VERSION):
        raise checks.Rejected("format_version", f"is {checks.short(version)}; this version of "
                              f"skreg reads file formats 2 and {FORMAT_VERSION}.")
    keys = {FORMAT} if version == 2 else {FORMAT, CHECKSUM}
    if set(metadata) != keys:
        raise checks.Rejected("metadata", f"has keys {checks.short(sorted(metadata))}; skreg "
                              f"files of format {version} hold {sorted(keys)}.")
    if version == 2:
        return checks.format_2_as_3(parsed)
    if not re.fullmatch(r"[0-9a-f]{64}", metadata[CHECKSUM]):
        raise checks.Rejected(CHECKSUM, "is not a SHA-256 digest.")
    return parsed


def _check(metadata, parsed, index, device, torch_device):
    """Every check of the header and tensor index; nothing is allocated."""
    checks.check_json_bounds(parsed)
    if not isinstance(parsed, dict) or parsed.get("format") != FORMAT:
        raise checks.Rejected("format", f"must be {FORMAT!r}.")
    parsed = _check_metadata(metadata, parsed)
    for key in sorted(set(parsed) ^ HEADER_KEYS):
        problem = "is missing." if key in HEADER_KEYS else "is not a field of skreg headers."
        raise checks.Rejected(key[:40], problem)
    cls = ESTIMATORS.get(parsed["estimator"]) if isinstance(parsed["estimator"], str) else None
    if cls is None:
        raise checks.Rejected(
            "estimator", f"is {checks.short(parsed['estimator'])}; skreg.load only builds "
            f"{', '.join(ESTIMATORS)}."
        )
    saved = parsed["net"]
    if not isinstance(saved, dict) or set(saved) != NET_KEYS:
        raise checks.Rejected("net", f"must be a JSON object with keys {sorted(NET_KEYS)}.")
    estimator = checks.check_params(cls, parsed["params"], device)
    history = checks.check_history(saved["history"])
    fitted = check_fitted(estimator, parsed["fitted"], history)
    batch_size, seed = _check_net_settings(saved)
    # More hidden layers than tensors cannot match the file; refusing them first keeps
    # the meta network below small.
    if len(estimator._hidden_sizes()) > len(index):
        raise checks.Rejected("params.hidden_layer_sizes", "has more layers than the file has "
                              "tensors.")
    # The criterion and output layout are read off the fitted attributes.
    for name, value in fitted.items():
        setattr(estimator, name, value)
    try:
        net = estimator._build_net(fitted["n_features_in_"], fitted["n_outputs_"], batch_size,
                                   torch_device, seed=seed)
    except (ValueError, TypeError) as exc:
        raise checks.Rejected("params.hidden_layer_sizes", f"is invalid: {exc}") from None
    checks.check_module_size(index, fitted["n_features_in_"], estimator._hidden_sizes(),
                             fitted["n_outputs_"])
    module_state, param_shapes, optimizer_cls, groups = checks.expected_network(net)
    implied_by = "hidden_layer_sizes, batch_norm, n_features_in_ and n_outputs_"
    state_keys = checks.check_tensor_index(index, module_state, param_shapes, optimizer_cls,
                                           implied_by)
    rates = checks.check_param_groups(saved["param_groups"], groups, estimator,
                                        optimizer_cls)
    return SimpleNamespace(estimator=estimator, history=history, net=net,
                           state_keys=state_keys, rates=rates)


def _check_net_settings(saved):
    """The net's batch size and the seed its continued training draws from."""
    batch_size = saved["batch_size"]
    if type(batch_size) is not int or not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise checks.Rejected("net.batch_size", f"is {checks.short(batch_size)}, not an integer "
                              f"from 1 to {MAX_BATCH_SIZE}.")
    seed = saved["seed"]
    if not (isinstance(seed, Integral) and type(seed) is not bool
            and 0 <= seed < np.iinfo(np.int32).max):
        raise checks.Rejected("net.seed", f"is {checks.short(seed)}, not an int32 seed.")
    return batch_size, seed


def _build(plan, tensors):
    """The estimator a checked file describes, with its tensors."""
    estimator, net = plan.estimator, plan.net
    # The initial weights are drawn from the net's own generator (its seed), never
    # torch's global one, and overwritten at once.
    net.initialize()
    module_state = {key[len("module."):]: tensor for key, tensor in tensors.items()
                    if key.startswith("module.")}
    net.module_.load_state_dict(module_state)
    state = {i: {key: tensors[f"optimizer.state.{i}.{key}"] for key in keys}
             for i, keys in plan.state_keys.items()}
    # The device's own optimizer flags (fused, capturable), the saved learning rates.
    groups = net.optimizer_.state_dict()["param_groups"]
    for group, rate in zip(groups, plan.rates):
        group.update(rate)
    net.optimizer_.load_state_dict({"state": state, "param_groups": groups})
    net.history = History(plan.history)
    estimator.net_ = net
    return estimator


for _function in (save, load):  # one example of both, written once
    _function.__doc__ = _function.__doc__.replace("{examples}", PERSISTENCE_EXAMPLES)
