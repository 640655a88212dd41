"""Continued training (``warm_start`` fits, ``partial_fit``): which changed parameters apply.

A continued call trains the network built by the first fit. Before it trains,
the net that the current parameters would build (a template, never initialized)
is compared with the fitted one, as scikit-learn's MLP reads its parameters
again at every call:

* parameters that shape the network cannot change: the hidden layers, the
  activation, batch normalization, residual blocks, the device, the captured CUDA-graph step,
  the regressor's ``loss`` (its output and target scaling) and, for the
  stochastic solvers, ``early_stopping`` (the earlier epochs have no
  validation scores, or the stopping rule needs them); a changed one raises a
  ValueError naming it and both values;
* every other parameter takes effect in the continued training: learning rate,
  penalties, weight decay, dropout rates, input noise, mixup, label smoothing,
  the dropout and weight-decay schedules, weight averaging (``swa_start``),
  the solver and its settings (Adam's moments carry over between Adam and
  AdamW, SGD's momentum between SGD calls), batch size, shuffling, the
  validation fraction, the learning-rate schedule, the stopping rule's ``tol``
  and ``n_iter_no_change`` (its count goes on), the callbacks and ``verbose``.
"""

import copy
import functools
import inspect

import numpy as np
import torch

from ._captured import CapturedStepNet

# Net parameter -> estimator parameter, for the parameters a continued fit cannot change.
ARCHITECTURE = {
    "module__hidden_layer_sizes": "hidden_layer_sizes",
    "module__activation": "activation",
    "module__batch_norm": "batch_norm",
    "module__residual": "residual",
    "device": "device",
}

# Settings the net reads afresh at every call, set as they are.
PLAIN_SETTINGS = ("l1", "l2", "alpha", "augmentation", "batch_size", "iterator_train__shuffle",
                  "verbose")

# skreg's callbacks that keep state between calls: their settings change in place.
STOPPING_SETTINGS = ("n_iter_no_change", "tol", "adaptive")
INVSCALING_SETTINGS = ("learning_rate_init", "power_t", "rows_per_epoch")


def same_setting(a, b):
    """Whether two parameter values configure the same thing.

    Objects are compared by their parameters (skorch callbacks, sklearn
    estimators) or their public attributes (torch losses, skreg's
    augmentation), because the template holds new copies of them; classes and
    functions are the same only when they are one object.
    """
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_setting(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_setting(a[k], b[k]) for k in a)
    if isinstance(a, (np.ndarray, torch.Tensor)):
        return a.shape == b.shape and bool((a == b).all())
    if isinstance(a, type) or inspect.isroutine(a):
        return False
    if isinstance(a, functools.partial):
        return same_setting((a.func, a.args, a.keywords), (b.func, b.args, b.keywords))
    if hasattr(a, "get_params"):
        return same_setting(a.get_params(deep=False), b.get_params(deep=False))
    if hasattr(a, "__dict__"):
        return same_setting(_public(a), _public(b))
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _public(obj):
    return {k: v for k, v in vars(obj).items() if not k.startswith("_") and k != "training"}


def refusal(name, built, current):
    """The ValueError of a parameter that a continued fit cannot change."""
    return ValueError(
        f"{name} cannot change in a continued fit (warm_start=True or partial_fit): the "
        f"network was trained with {name}={built!r}, now {name}={current!r}. Set it back, or "
        "set warm_start=False to fit a new network."
    )


def check_architecture(estimator, net, template, stochastic):
    """Raise a ValueError if a parameter the fitted network cannot follow has changed."""
    params = estimator.get_params(deep=False)
    for key, name in ARCHITECTURE.items():
        built, current = getattr(net, key), getattr(template, key)
        if not same_setting(built, current):
            raise refusal(name, built, params[name])
    # The captured step is the net's class (cuda_graph=True builds a CapturedStepNet).
    captured = isinstance(net, CapturedStepNet)
    if captured != isinstance(template, CapturedStepNet):
        raise refusal("cuda_graph", captured, params["cuda_graph"])
    # L-BFGS ignores early stopping, as in sklearn; the stochastic solvers record
    # validation scores for every epoch, or for none.
    validated = getattr(estimator, "validation_scores_", None) is not None
    if stochastic and validated != bool(estimator.early_stopping):
        raise refusal("early_stopping", validated, estimator.early_stopping)


def apply_changed_settings(estimator, net, template, stochastic=True):
    """Make the fitted ``net`` train as ``template`` would, or raise if it cannot.

    Nothing is changed before every check has passed; what is changed then is
    put back by the estimator's snapshot if the call fails later.

    Parameters
    ----------
    estimator : BaseRegularizedMLP
        Its parameters name the values in error messages.
    net : skreg._net.RegularizedNet
        The fitted net; changed in place.
    template : skreg._net.RegularizedNet
        The net the estimator's current parameters build, not initialized.
    stochastic : bool, default=True
        Whether the call trains with Adam or SGD (else L-BFGS, which uses
        neither the optimizer, the callbacks nor the validation split).
    """
    check_architecture(estimator, net, template, stochastic)
    if not same_setting(net.module__dropout, template.module__dropout):
        net.module_.set_dropout(template.module__dropout)
        net.module__dropout = template.module__dropout
    if not same_setting(net.criterion, template.criterion):
        net.criterion = template.criterion
        net.initialize_criterion()
    for key in PLAIN_SETTINGS:
        if not same_setting(getattr(net, key), getattr(template, key)):
            setattr(net, key, getattr(template, key))
    if not stochastic:
        return
    _apply_optimizer_settings(net, template)
    # The split of this call's rows (the first fit's seed, as every call draws it).
    net.train_split = template.train_split
    _apply_callbacks(estimator, net, template)
    for group in net.optimizer_.param_groups:
        # A schedule switched on in a continued fit resumes at the epochs done, which
        # torch's schedulers only do from the initial rate they find in each group.
        group.setdefault("initial_lr", group["lr"])


def _optimizer_kwargs(net):
    return {k: v for k, v in vars(net).items() if k.startswith("optimizer__")}


def _solver(optimizer_class):
    """Optimizer classes whose per-parameter state one can take over from the other."""
    if issubclass(optimizer_class, (torch.optim.Adam, torch.optim.AdamW)):
        return "adam"
    return optimizer_class.__name__


def _apply_optimizer_settings(net, template):
    """Solver, weight decay, its settings and learning rate, keeping the optimizer's state."""
    optimizer = net.optimizer_
    lr, initial_lr = optimizer.param_groups[0]["lr"], optimizer.param_groups[0].get("initial_lr")
    layout_changes = bool(net.weight_decay) != bool(template.weight_decay)
    old_kwargs, new_kwargs = _optimizer_kwargs(net), _optimizer_kwargs(template)
    rebuild = net.optimizer is not template.optimizer or old_kwargs.keys() != new_kwargs.keys()
    if rebuild or layout_changes:
        # Another optimizer class, or weight decay switched on or off (its parameter
        # groups change): a new optimizer, with each parameter's state carried over
        # where the solver is the same (Adam and AdamW keep the same moments).
        for key in old_kwargs:
            delattr(net, key)
        for key, value in new_kwargs.items():
            setattr(net, key, value)
        same_solver = _solver(net.optimizer) == _solver(template.optimizer)
        net.optimizer = template.optimizer
        net.weight_decay = template.weight_decay
        net.initialize_optimizer()
        for group in net.optimizer_.param_groups:
            # The learning rate the schedule has reached, not the initial one.
            group["lr"] = lr
            if initial_lr is not None:
                group["initial_lr"] = initial_lr
        if same_solver:
            for group in net.optimizer_.param_groups:
                for param in group["params"]:
                    if param in optimizer.state:
                        # A copy: the old optimizer's state is the snapshot's to restore.
                        net.optimizer_.state[param] = copy.deepcopy(optimizer.state[param])
    else:
        if net.weight_decay != template.weight_decay:
            for group in optimizer.param_groups:
                if group.get("weight_decay"):
                    group["weight_decay"] = template.weight_decay
            net.weight_decay = template.weight_decay
        for key, value in new_kwargs.items():
            if not same_setting(old_kwargs[key], value):
                for group in optimizer.param_groups:
                    group[key[len("optimizer__"):]] = value
                setattr(net, key, value)
    if net.lr != template.lr:
        for group in net.optimizer_.param_groups:
            group["lr"] = template.lr
            if "initial_lr" in group:
                group["initial_lr"] = template.lr
        net.lr = template.lr


class _Unset:
    """Marks a ``callbacks__<name>`` that is not set (None is a value: the callback is off)."""


def _named_callbacks(net):
    """``(name, callback or class)`` as skorch's ``initialize_callbacks`` would make them."""
    named = []
    for name, callback in net._uniquely_named_callbacks():
        replaced = getattr(net, "callbacks__" + name, _Unset)
        if replaced is not _Unset:
            callback = replaced
        if callback is not None:
            named.append((name, callback))
    return named


def _apply_callbacks(estimator, net, template):
    """The template's callbacks; unchanged ones, and skreg's stateful ones, keep their state.

    The stopping rule keeps its count and best values and the inverse-scaling
    schedule the rows seen, with their settings changed in place; any other
    callback whose settings changed is replaced by a new, initialized one.
    """
    fitted = dict(net.callbacks_)
    callbacks_ = []
    for name, callback in _named_callbacks(template):
        old = fitted.get(name)
        if old is not None and _keeps(name, old, callback):
            callbacks_.append((name, old))
            continue
        if isinstance(callback, type):
            callback = callback()
        callback.initialize()
        if name == "invscaling":
            # Switched on in a continued fit: it counts the rows seen before, as ``t_``.
            callback.rows_seen_ = getattr(estimator, "t_", 0)
        callbacks_.append((name, callback))
    net.callbacks = template.callbacks
    quiet = "callbacks__print_log"
    if quiet in vars(template):
        setattr(net, quiet, getattr(template, quiet))
    elif quiet in vars(net):
        delattr(net, quiet)
    net.callbacks_ = callbacks_


def _keeps(name, old, callback):
    """Whether the fitted callback ``old`` goes on in place of the template's ``callback``.

    It does when it has the same class and settings (a class given as a
    callback has no settings of its own); skreg's stopping rule (for the same
    ``early_stopping``) and inverse-scaling schedule take the new settings.
    """
    if isinstance(callback, type):
        return type(old) is callback
    if type(old) is not type(callback):
        return False
    settings = {"stopping": STOPPING_SETTINGS, "invscaling": INVSCALING_SETTINGS}.get(name, ())
    if name == "stopping" and old.early_stopping != callback.early_stopping:
        settings = ()
    if settings:
        old.set_params(**{key: getattr(callback, key) for key in settings})
    return same_setting(old, callback)
