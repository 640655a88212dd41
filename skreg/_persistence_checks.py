"""What :func:`skreg.load` checks in a file's header and tensor index before it builds anything.

Every check but the last, :func:`check_tensor_values`, reads only the parsed JSON
header and the names, dtypes and shapes of the file's tensors (not their data), so
that no value in the header can make loading allocate much more than the file's
own size: the parameters may imply no more weights than the file's tensors hold
(:func:`check_module_size`) before the network is built for its shapes, which must
equal the file's tensors. A failed check raises :class:`Rejected`, which names the
header field; :func:`skreg.load` adds the file's name.

The fitted attributes are checked by the table in ``skreg._persistence_fitted``.
"""

import hashlib
import math
import re
import reprlib
from numbers import Integral, Real

import numpy as np
import torch

# Bounds on what a header may hold. Real headers are far inside them: the largest part is
# the training history, about 60 bytes per batch of every epoch.
MAX_HEADER_BYTES = 64 * 2**20
MAX_DEPTH = 16
MAX_STRING = 10_000
MAX_TENSORS = 100_000
# torch.set_num_threads with a huge count crashes the process at the next operation.
MAX_THREADS = 1024

SCALARS = (type(None), bool, int, float, str)
# Array dtypes a file may declare: booleans, numbers, bounded strings, and objects
# (strings and numbers, e.g. the labels of a pandas target).
ARRAY_DTYPE = re.compile(r"^(?:[<>|=]?(?:b1|[iu][1248]|f[248]|U[1-9][0-9]{0,20})|\|O)$")
# safetensors' names for the dtypes a skreg network holds.
TORCH_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}
# Optimizer flags that choose an implementation, not the arithmetic: the loaded optimizer
# takes the ones its device calls for (fused Adam on a CPU, capturable under a CUDA graph).
IMPLEMENTATION_FLAGS = frozenset({"foreach", "fused", "capturable", "differentiable"})
# Per-parameter state of each optimizer skreg builds; "step" is a scalar, the rest have the
# parameter's shape.
OPTIMIZER_STATE = {
    torch.optim.Adam: frozenset({"step", "exp_avg", "exp_avg_sq"}),
    torch.optim.AdamW: frozenset({"step", "exp_avg", "exp_avg_sq"}),
    torch.optim.SGD: frozenset({"momentum_buffer"}),
}
NON_NEGATIVE_TENSORS = ("running_var", "num_batches_tracked", "exp_avg_sq", "step")
# Param-group keys that later torch releases added, with the value that means what each
# optimizer does where torch lacks the key: files move between torch releases both ways.
ADDED_GROUP_KEYS = {
    "decoupled_weight_decay": {torch.optim.Adam: False, torch.optim.AdamW: True},
}

_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 60
_repr.maxlist = _repr.maxtuple = _repr.maxdict = 6


def short(value):
    """A repr of ``value`` short enough for an error message, whatever the file held."""
    if isinstance(value, np.ndarray):
        return f"array of shape {list(value.shape)} and dtype {value.dtype}"
    return _repr.repr(value)


class Rejected(ValueError):
    """A header field that fails its check; ``str`` is ``"<field> <problem>"``."""

    def __init__(self, field, problem):
        super().__init__(f"{field} {problem}")
        self.field = field


def check_json_bounds(header):
    """Refuse nesting deeper than ``MAX_DEPTH`` and strings longer than ``MAX_STRING``."""
    stack = [(header, "header", 0)]
    while stack:
        value, field, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Rejected(field, f"is nested more than {MAX_DEPTH} levels deep.")
        if isinstance(value, str) and len(value) > MAX_STRING:
            raise Rejected(field, f"is a string of {len(value)} characters (at most {MAX_STRING}).")
        if isinstance(value, dict):
            for key, item in value.items():
                if len(key) > MAX_STRING:
                    raise Rejected(field, f"has a key of {len(key)} characters.")
                stack.append((item, f"{field}.{key[:40]}", depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{field}[{i}]", depth + 1) for i, item in enumerate(value))


# ---------------------------------------------------------------------- JSON -> Python
def decode(value, field):
    """Python value of a JSON value written by ``skreg._persistence.encode``."""
    if isinstance(value, SCALARS):
        return value
    if isinstance(value, list):
        return [decode(v, f"{field}[{i}]") for i, v in enumerate(value)]
    keys = set(value)
    if keys == {"__tuple__"} and isinstance(value["__tuple__"], list):
        return tuple(decode(v, f"{field}[{i}]") for i, v in enumerate(value["__tuple__"]))
    if keys == {"__dict__"} and isinstance(value["__dict__"], list):
        items = {}
        for i, pair in enumerate(value["__dict__"]):
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], SCALARS)):
                raise Rejected(f"{field}[{i}]", "is not a [key, value] pair of a dict.")
            items[pair[0]] = decode(pair[1], f"{field}[{pair[0]!r}]")
        return items
    if keys == {"__ndarray__", "dtype", "shape"}:
        return decode_array(value, field)
    raise Rejected(field, f"is an unknown JSON object with keys {short(sorted(keys))}.")


def decode_array(value, field):
    """The ndarray of an ``{"__ndarray__", "dtype", "shape"}`` object, sizes checked first."""
    dtype, shape, items = value["dtype"], value["shape"], value["__ndarray__"]
    if not (isinstance(dtype, str) and ARRAY_DTYPE.match(dtype)):
        raise Rejected(
            f"{field}.dtype", f"is {short(dtype)}, an unsupported dtype: skreg files hold "
            "arrays of booleans, numbers, strings or objects (strings and numbers)."
        )
    if dtype.lstrip("<>|=").startswith("U") and int(dtype.lstrip("<>|=U")) > MAX_STRING:
        raise Rejected(f"{field}.dtype", f"is {dtype}: strings of at most {MAX_STRING} "
                       "characters are allowed.")
    dtype = np.dtype(dtype)
    if not (isinstance(shape, list) and len(shape) <= 32
            and all(type(n) is int and n >= 0 for n in shape)):
        raise Rejected(f"{field}.shape", f"is {short(shape)}, not a list of sizes.")
    if not isinstance(items, list) or len(items) != math.prod(shape):
        raise Rejected(field, f"does not hold the {math.prod(shape)} values its shape says.")
    allowed = {"b": bool, "i": int, "u": int, "f": (int, float), "U": str,
               "O": (str, int, float, bool)}[dtype.kind]
    for i, item in enumerate(items):
        if not isinstance(item, allowed) or (dtype.kind in "iuf" and isinstance(item, bool)):
            raise Rejected(f"{field}[{i}]", f"is {short(item)}, not a value of dtype {dtype}.")
        if dtype.kind == "U" and len(item) > dtype.itemsize // 4:
            raise Rejected(f"{field}[{i}]", f"is longer than its dtype {dtype} holds.")
    array = np.empty(len(items), dtype=dtype)
    try:
        array[:] = items
    except (ValueError, TypeError, OverflowError) as exc:
        raise Rejected(field, f"does not fit its dtype {dtype}: {exc}") from None
    return array.reshape(shape)


# ---------------------------------------------------------------------- parameters
def check_params(cls, raw, device):
    """The unfitted estimator of the file's constructor parameters, validated as ``fit`` does.

    Parameters the file lacks (ones added to skreg after it was written) take their
    defaults; ``device`` replaces the saved device.
    """
    if not isinstance(raw, dict):
        raise Rejected("params", "is not a JSON object.")
    known = cls._get_param_names()
    for name in raw:
        if name not in known:
            raise Rejected(f"params.{name[:40]}", f"is not a parameter of {cls.__name__}.")
    params = {name: decode(value, f"params.{name}") for name, value in raw.items()}
    callbacks = params.get("callbacks")
    if callbacks is not None and not (isinstance(callbacks, (list, tuple)) and not callbacks):
        raise Rejected("params.callbacks", "is set, but skreg.save never stores callbacks.")
    n_threads = params.get("n_threads")
    if isinstance(n_threads, Integral) and n_threads > MAX_THREADS:
        raise Rejected("params.n_threads", f"is {n_threads}, more than {MAX_THREADS}.")
    estimator = cls(**{**params, "device": device})
    try:
        estimator._validate_params()
    except (ValueError, TypeError) as exc:
        raise Rejected("params", f"are invalid: {exc}") from None
    name = "hidden_layer_sizes"
    try:
        n_layers = len(estimator._hidden_sizes())
        name = "dropout"
        estimator._dropout_rates(n_layers)
    except (ValueError, TypeError) as exc:
        raise Rejected(f"params.{name}", f"is invalid: {exc}") from None
    return estimator


# ---------------------------------------------------------------------- history
def check_history(raw):
    """The training history: one dict per epoch, numbered from 1, with a finite train_loss."""
    if not isinstance(raw, list):
        raise Rejected("net.history", "is not a list of epochs.")
    for i, epoch in enumerate(raw):
        field = f"net.history[{i}]"
        if not isinstance(epoch, dict) or type(epoch.get("epoch")) is not int \
                or epoch["epoch"] != i + 1:
            raise Rejected(field, f"is not the record of epoch {i + 1}.")
        for key, value in epoch.items():
            if key == "batches":
                if not (isinstance(value, list) and all(
                        isinstance(b, dict) and all(isinstance(v, SCALARS) for v in b.values())
                        for b in value)):
                    raise Rejected(f"{field}.batches", "is not a list of batch records.")
            elif not isinstance(value, SCALARS):
                raise Rejected(f"{field}.{key}", f"is {short(value)}, not a number or string.")
        loss = epoch.get("train_loss")
        if not (isinstance(loss, float) and math.isfinite(loss)):
            raise Rejected(f"{field}.train_loss", f"is {short(loss)}, not a finite number.")
    return raw


# ---------------------------------------------------------------------- network and tensors
def check_module_size(index, n_features, hidden, n_outputs):
    """Refuse parameters that imply more weights and biases than the file's module tensors hold.

    Counted as ``check_network_size`` counts them, from the widths alone, so that
    the module built next for its shapes is never larger than about the file's own
    tensors (batch normalization adds four values and a counter per hidden unit
    at most, fewer than its layer's weights).
    """
    implied, width_in = 0, n_features
    for width in [*hidden, n_outputs]:
        implied += (width_in + 1) * width
        width_in = width
    held = sum(math.prod(shape) for name, (shape, _) in index.items()
               if name.startswith("module."))
    if implied > held:
        raise Rejected("params.hidden_layer_sizes", f"with n_features_in_ and n_outputs_ imply "
                       f"{implied} weights and biases, but the file's module tensors hold "
                       f"{held} values.")


def expected_network(net):
    """The module and optimizer ``net`` would build, for their shapes.

    Call :func:`check_module_size` first: the module is built (skreg's layers are
    made on the CPU, whatever the device), with initial weights drawn from a
    generator of its own, so that torch's global generator is left alone.

    Returns the module's state dict shapes and dtypes, the shapes of the optimizer's
    parameters in its order, and its param groups without the parameters' tensors.
    """
    try:
        module = net.module(**net.get_params_for("module"), generator=torch.Generator())
        args, kwargs = net.get_params_for_optimizer("optimizer", module.named_parameters())
        kwargs = {k: v for k, v in kwargs.items() if k not in IMPLEMENTATION_FLAGS}
        optimizer = net.optimizer(*args, **kwargs)
    except (RuntimeError, ValueError, TypeError, OverflowError) as exc:
        raise Rejected("params", f"describe a network that cannot be built: {exc}") from None
    state = {f"module.{k}": (list(t.shape), TORCH_DTYPES.get(t.dtype, str(t.dtype)))
             for k, t in module.state_dict().items()}
    params = [p for group in optimizer.param_groups for p in group["params"]]
    groups = optimizer.state_dict()["param_groups"]
    return state, [(list(p.shape), TORCH_DTYPES.get(p.dtype)) for p in params], \
        type(optimizer), groups


def check_tensor_index(index, module_state, param_shapes, optimizer_cls, implied_by):
    """Every tensor of the file must be one the network has, with the shape it implies."""
    if len(index) > MAX_TENSORS:
        raise Rejected("tensors", f"are {len(index)}, more than {MAX_TENSORS}.")
    for name, expected in module_state.items():
        if name not in index:
            raise Rejected(f"tensor {name}", f"is missing; {implied_by} imply it.")
        if index[name] != expected:
            raise Rejected(
                f"tensor {name}", f"has shape {index[name][0]} and dtype {index[name][1]}, but "
                f"{implied_by} imply shape {expected[0]} and dtype {expected[1]}."
            )
    state_keys = OPTIMIZER_STATE[optimizer_cls]
    state = {}
    for name, (shape, dtype) in index.items():
        if name in module_state:
            continue
        match = re.fullmatch(r"optimizer\.state\.(0|[1-9][0-9]{0,5})\.([a-z_]+)", name)
        if match is None:
            raise Rejected(f"tensor {name[:80]}", "is not a tensor of the network or optimizer.")
        i, key = int(match[1]), match[2]
        if i >= len(param_shapes) or key not in state_keys:
            raise Rejected(f"tensor {name}", f"is not state of the {optimizer_cls.__name__} "
                           f"of {len(param_shapes)} parameters.")
        param_shape, param_dtype = param_shapes[i]
        if key == "step":
            expected_shape, dtypes = [], ("F32", "F64")
        else:
            expected_shape, dtypes = param_shape, (param_dtype,)
        if shape != expected_shape or dtype not in dtypes:
            raise Rejected(f"tensor {name}", f"has shape {shape} and dtype {dtype}; parameter {i} "
                           f"needs shape {expected_shape} and dtype {dtypes[0]}.")
        state.setdefault(i, []).append(key)
    for i, keys in state.items():
        if set(keys) != state_keys:  # torch's optimizers expect all of a parameter's state
            raise Rejected(f"tensors optimizer.state.{i}.*", f"are {sorted(keys)}; the "
                           f"{optimizer_cls.__name__} keeps {sorted(state_keys)}.")
    return state


def with_added_keys(group, optimizer_cls):
    """``group`` with the value of each key of ``ADDED_GROUP_KEYS`` that it lacks."""
    implied = {key: values[optimizer_cls] for key, values in ADDED_GROUP_KEYS.items()
               if optimizer_cls in values}
    return {**implied, **group}


def check_param_groups(raw, expected, estimator, optimizer_cls):
    """The saved optimizer's hyperparameters must be those the estimator's parameters give.

    Only the learning rate may differ, by the schedule: equal to ``learning_rate_init``
    with ``learning_rate="constant"``, between 0 and it otherwise. A key that torch added
    in a later release counts, where one side lacks it, as the value that means what
    ``optimizer_cls`` does without it. Returns the saved learning rate of each group (and
    ``initial_lr``, which torch's schedulers add).
    """
    if not isinstance(raw, list) or len(raw) != len(expected):
        raise Rejected("net.param_groups", f"must be a list of {len(expected)} param groups.")
    init = estimator.learning_rate_init
    rates = []
    for i, (saved, fresh) in enumerate(zip(raw, expected)):
        field = f"net.param_groups[{i}]"
        if not isinstance(saved, dict):
            raise Rejected(field, "is not a JSON object.")
        saved = {key: decode(value, f"{field}.{key}") for key, value in saved.items()}
        saved, fresh = with_added_keys(saved, optimizer_cls), with_added_keys(fresh, optimizer_cls)
        scheduled = estimator.learning_rate != "constant"
        for key in sorted(set(saved) | set(fresh)):
            if key in IMPLEMENTATION_FLAGS or key in ("lr", "initial_lr"):
                continue
            if key not in saved or key not in fresh or saved[key] != fresh[key] \
                    or type(saved[key]) is not type(fresh[key]):
                raise Rejected(f"{field}.{key}", f"is {short(saved.get(key))}, but the "
                               f"parameters give {short(fresh.get(key))}.")
        lr = saved.get("lr")
        if not (isinstance(lr, Real) and not isinstance(lr, bool) and math.isfinite(lr)
                and (0 <= lr <= init if scheduled else lr == init)):
            bound = f"between 0 and learning_rate_init={init}" if scheduled \
                else f"learning_rate_init={init}"
            raise Rejected(f"{field}.lr", f"is {short(lr)}; the parameters give {bound}.")
        rate = {"lr": lr}
        if "initial_lr" in saved:
            if not scheduled or saved["initial_lr"] != init:
                raise Rejected(f"{field}.initial_lr", f"is {short(saved['initial_lr'])}; only a "
                               f"schedule sets it, to learning_rate_init={init}.")
            rate["initial_lr"] = saved["initial_lr"]
        rates.append(rate)
    return rates


def check_tensor_values(tensors):
    """Finite tensors, and non-negative variances, counts and steps."""
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise Rejected(f"tensor {name}", "holds NaN or infinite values.")
        if name.endswith(NON_NEGATIVE_TENSORS) and (tensor < 0).any():
            raise Rejected(f"tensor {name}", "holds negative values.")


# ---------------------------------------------------------------------- format 2
def format_2_as_3(header):
    """The header of a format-2 file in format 3's layout, for the checks of format 3.

    Format 2 named its tensors as format 3 does, but kept the module's and the
    optimizer's state dicts as JSON trees pointing at them, the optimizer's
    hyperparameters inside the latter, and no checksum; ``coefs_`` was shown in
    float64 after loading. The trees are not used: the tensors are checked by
    their names, as in format 3.
    """
    net = header.get("net")
    if not isinstance(net, dict):
        raise Rejected("net", "is not a JSON object.")
    try:
        optimizer = dict(net["optimizer"]["__dict__"])
        groups = [dict(group["__dict__"]) for group in optimizer["param_groups"]]
    except (KeyError, TypeError, ValueError):
        raise Rejected("net.optimizer", "is not the state of an optimizer.") from None
    fitted = header.get("fitted")
    if isinstance(fitted, dict):
        fitted = {"_coefs_dtype": "float64", **fitted}
    net = {"batch_size": net.get("batch_size"), "seed": net.get("seed"), "param_groups": groups,
           "history": net.get("history")}
    return {**header, "format_version": 3, "fitted": fitted, "net": net}


def checksum(header_json, tensors):
    """SHA-256 of the header's JSON text and of each tensor's name, dtype, shape and bytes."""
    digest = hashlib.sha256(header_json.encode())
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"\0{name}\0{tensor.dtype}\0{list(tensor.shape)}\0".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()
