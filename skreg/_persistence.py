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
the training history) is JSON in the file's header. Loading parses the header,
picks the class from skreg's two estimators (nothing else can be named),
validates the parameters, rebuilds the network from them and copies the
tensors in; no code from the file is run.
"""

import inspect
import json
import re
import warnings

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from sklearn.utils.validation import check_is_fitted
from skorch.history import History

from ._base import resolve_device
from ._classifier import RegularizedMLPClassifier
from ._output import check_output_layout
from ._regressor import RegularizedMLPRegressor

FORMAT = "skreg"
# 2: a binary classifier's network has one logistic output (in 1 it had two softmax
# outputs), and classifiers store n_outputs_ and out_activation_.
FORMAT_VERSION = 2
ESTIMATORS = {cls.__name__: cls for cls in (RegularizedMLPClassifier, RegularizedMLPRegressor)}
FITTED_NAME = re.compile(r"^[a-z][a-z0-9_]*_$")


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


def _decode(value):
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(_decode(v) for v in value["__tuple__"])
        if set(value) == {"__dict__"}:
            return {_decode(k): _decode(v) for k, v in value["__dict__"]}
        if set(value) == {"__ndarray__", "dtype", "shape"}:
            dtype = np.dtype(value["dtype"])
            if dtype.kind not in "biufUO":
                raise ValueError(f"The file holds an array of unsupported dtype {dtype}.")
            items = value["__ndarray__"]
            if dtype.kind == "O":
                items = [_decode(v) for v in items]
            array = np.empty(len(items), dtype=dtype)
            array[:] = items
            return array.reshape(value["shape"])
        raise ValueError(f"The file holds an unknown JSON object with keys {sorted(value)}.")
    return value


def _encode_params(estimator):
    """Constructor parameters; ones JSON cannot hold are saved as their default, with a warning."""
    defaults = inspect.signature(type(estimator).__init__).parameters
    params, dropped = {}, []
    for name, value in estimator.get_params(deep=False).items():
        try:
            params[name] = _encode(value)
        except _Unencodable:
            params[name] = _encode(defaults[name].default)
            dropped.append(name)
    if dropped:
        warnings.warn(
            f"skreg.save stores only plain values; {', '.join(dropped)} "
            "(objects such as callbacks or a RandomState) were saved as their defaults. "
            "They matter for training, not for predictions.",
            UserWarning,
            stacklevel=3,
        )
    return params


def _tensor_state(state, prefix, tensors):
    """Move the tensors of a (nested) state dict into ``tensors``; return the rest for JSON."""
    if isinstance(state, torch.Tensor):
        tensors[prefix] = state.detach().cpu().contiguous()
        return {"__tensor__": prefix}
    if isinstance(state, dict):
        return {"__dict__": [[_encode(k), _tensor_state(v, f"{prefix}.{k}", tensors)]
                             for k, v in state.items()]}
    if isinstance(state, (list, tuple)):
        items = [_tensor_state(v, f"{prefix}.{i}", tensors) for i, v in enumerate(state)]
        return {"__tuple__": items} if isinstance(state, tuple) else items
    return _encode(state)


def _untensor_state(state, tensors):
    if isinstance(state, list):
        return [_untensor_state(v, tensors) for v in state]
    if isinstance(state, dict):
        if set(state) == {"__tensor__"}:
            return tensors[state["__tensor__"]]
        if set(state) == {"__dict__"}:
            return {_decode(k): _untensor_state(v, tensors) for k, v in state["__dict__"]}
        if set(state) == {"__tuple__"}:
            return tuple(_untensor_state(v, tensors) for v in state["__tuple__"])
    return _decode(state)


def save(estimator, path):
    """Save a fitted skreg estimator to a safetensors file that loads without running code.

    The file holds the network's weights, the optimizer's state, the
    constructor parameters, the fitted attributes and the training history, so
    that :func:`load` gives a model with the same predictions which can also go
    on training (``warm_start``). Tensors are stored on the CPU, so a model
    fitted on a GPU loads on any machine.

    Parameters
    ----------
    estimator : RegularizedMLPClassifier or RegularizedMLPRegressor
        A fitted estimator. Parameters that are not plain values (``callbacks``,
        a ``RandomState`` as ``random_state``) are saved as their defaults, with
        a warning.
    path : str or os.PathLike
        File to write (conventionally ending in ``.safetensors``).

    See Also
    --------
    load : Read such a file back.
    """
    if type(estimator) not in ESTIMATORS.values():
        raise TypeError(
            f"skreg.save saves RegularizedMLPClassifier and RegularizedMLPRegressor objects, "
            f"got {type(estimator).__name__}."
        )
    check_is_fitted(estimator)
    net = estimator.net_
    tensors = {}
    fitted = {}
    for name, value in vars(estimator).items():
        if FITTED_NAME.match(name) and name != "net_":
            try:
                fitted[name] = _encode(value)
            except _Unencodable as exc:
                raise TypeError(f"Cannot save the fitted attribute {name}: it is {exc}.") from exc
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": type(estimator).__name__,
        "params": _encode_params(estimator),
        "fitted": fitted,
        "net": {
            "n_outputs": net.module_.output.out_features,
            "batch_size": net.batch_size,
            "split_seed": getattr(net.train_split, "random_state", None),
            "seed": net.seed,
            "module": _tensor_state(net.module_.state_dict(), "module", tensors),
            "optimizer": _tensor_state(net.optimizer_.state_dict(), "optimizer", tensors),
            "history": json.loads(json.dumps(net.history.to_list(), default=_json_number)),
        },
    }
    save_file(tensors, str(path), metadata={FORMAT: json.dumps(header)})


def _check_outputs(estimator, network_outputs, path):
    """Raise a ValueError unless the network's output size fits the fitted attributes."""
    try:
        if isinstance(estimator, RegularizedMLPClassifier):
            check_output_layout(
                estimator.classes_, estimator.n_outputs_, estimator.out_activation_,
                network_outputs,
            )
        elif network_outputs != estimator.n_outputs_:
            raise ValueError(
                f"the network has {network_outputs} outputs but n_outputs_="
                f"{estimator.n_outputs_}."
            )
    except ValueError as exc:
        raise ValueError(f"{path} holds a model whose parts do not fit together: {exc}") from exc


def _json_number(value):
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"The history holds a {type(value).__name__}, which cannot be saved.")


def load(path, device="cpu"):
    """Load an estimator written by :func:`save`; nothing in the file is executed.

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
    ValueError
        If the file was not written by :func:`save`, names an unknown class or
        holds parameters or weights that do not fit together.
    """
    torch_device = resolve_device(device)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = f.metadata() or {}
            tensors = {key: f.get_tensor(key).to(torch_device) for key in f.keys()}
    except SafetensorError as exc:
        raise ValueError(f"{path} is not a safetensors file written by skreg.save: {exc}") from exc
    if FORMAT not in metadata:
        raise ValueError(f"{path} is not a file written by skreg.save (no skreg header).")
    header = json.loads(metadata[FORMAT])
    try:
        return _build(header, tensors, device, torch_device, path)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path} has a malformed skreg header: {exc!r}") from exc


def _build(header, tensors, device, torch_device, path):
    """The estimator described by a parsed header, with the file's tensors."""
    if header.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path} has skreg file format {header.get('format_version')!r}; this version of "
            f"skreg reads format {FORMAT_VERSION}."
        )
    cls = ESTIMATORS.get(header.get("estimator"))
    if cls is None:
        raise ValueError(
            f"{path} names the estimator {header.get('estimator')!r}; skreg.load only builds "
            f"{', '.join(ESTIMATORS)}."
        )
    params = {name: _decode(value) for name, value in header["params"].items()}
    params["device"] = device
    estimator = cls(**params)
    estimator._validate_params()
    for name, value in header["fitted"].items():
        if not FITTED_NAME.match(name) or name == "net_":
            raise ValueError(f"{path} holds an invalid attribute name {name!r}.")
        setattr(estimator, name, _decode(value))

    saved = header["net"]
    _check_outputs(estimator, saved["n_outputs"], path)
    # The seed that continued training draws from. Files written before it was saved
    # hold the split's seed, the same seed, which is None without early stopping.
    seed = saved.get("seed", saved["split_seed"])
    if seed is None:
        seed = estimator._draw_seed()
    # The initial weights are drawn from the net's own generator, and overwritten at once.
    net = estimator._build_net(
        estimator.n_features_in_, saved["n_outputs"], saved["batch_size"], torch_device, seed=seed
    )
    net.initialize()
    try:
        net.module_.load_state_dict(_untensor_state(saved["module"], tensors))
        net.optimizer_.load_state_dict(_untensor_state(saved["optimizer"], tensors))
    except (RuntimeError, KeyError, ValueError) as exc:
        raise ValueError(f"The weights in {path} do not fit its parameters: {exc}") from exc
    net.history = History(saved["history"])
    estimator.net_ = net
    return estimator
