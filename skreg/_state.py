"""Keeping an estimator's fitted state whole when a call to ``fit`` fails."""

import copy
from contextlib import contextmanager

import torch

# Fitted state that sklearn's naming convention (a trailing underscore) does not show:
# the stopping rule's count, the dtype ``coefs_`` is shown in, weights assigned before
# the first fit.
PRIVATE_FITTED_ATTRIBUTES = ("_no_improvement_count", "_coefs_dtype", "_assigned_weights")


def _fitted_attributes(estimator):
    return [
        name for name in vars(estimator)
        if (name.endswith("_") and not name.startswith("__"))
        or name in PRIVATE_FITTED_ATTRIBUTES
    ]


def _has_state_dict(value):
    return (
        not isinstance(value, type)
        and hasattr(value, "state_dict")
        and hasattr(value, "load_state_dict")
        and not isinstance(value, (torch.nn.Module, torch.optim.Optimizer))
    )


class NetSnapshot:
    """Everything of a fitted skorch net that a continued call to ``fit`` can change.

    That is the module's weights and buffers and its top-level layers (a
    changed ``dropout`` puts new ones in), the optimizer's state and
    hyperparameters, the net's attributes (learning rate, penalties, the
    optimizer, criterion and callback list themselves, ...), the attributes of
    every callback, the state of objects with a ``state_dict`` that callbacks
    hold (an LR scheduler), and the length of the history. Tensors and state
    dicts are copied; the other attributes are kept by reference, which
    suffices because skorch's and skreg's callbacks assign their attributes
    rather than change them in place (what a user's callback changes in place,
    a list it appends to, say, stays changed).

    Parameters
    ----------
    net : skreg._net.RegularizedNet
        An initialized net.
    """

    def __init__(self, net):
        self.net = net
        self.net_vars = dict(vars(net))
        self.history_length = len(net.history)
        module = net.module_
        self.module = module
        self.layers = {name: dict(m._modules) for name, m in module.named_modules()}
        self.module_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        self.optimizer = net.optimizer_
        self.optimizer_state = copy.deepcopy(net.optimizer_.state_dict())
        self.callbacks = []
        for _, callback in net.callbacks_:
            attributes = dict(vars(callback))
            states = {
                name: copy.deepcopy(value.state_dict())
                for name, value in attributes.items()
                if _has_state_dict(value)
            }
            self.callbacks.append((callback, attributes, states))

    def restore(self):
        """Put the net back as it was when the snapshot was taken."""
        net = self.net
        for callback, attributes, states in self.callbacks:
            vars(callback).clear()
            vars(callback).update(attributes)
            for name, state in states.items():
                attributes[name].load_state_dict(state)
        vars(net).clear()
        vars(net).update(self.net_vars)
        del net.history[self.history_length :]
        modules = dict(self.module.named_modules())
        for name, layers in self.layers.items():
            if name in modules:
                modules[name]._modules.clear()
                modules[name]._modules.update(layers)
        self.module.load_state_dict(self.module_state)
        self.optimizer.load_state_dict(self.optimizer_state)


@contextmanager
def fitted_state_kept_on_error(estimator, continuing=False):
    """Put the estimator's fitted attributes, and a continued net, back if the block raises.

    A fit sets its attributes one after the other (``n_features_in_`` during
    validation, ``classes_`` or ``y_mean_`` when the target is encoded, ``net_``
    after training). If a later step fails, an estimator fitted before would be
    left with attributes of two different fits, whose predictions are wrong
    without any error. Restoring the earlier attributes keeps it consistent: a
    failed fit leaves a fitted model as it was, and an unfitted one unfitted.

    Attributes are restored by reference. A fresh fit builds a new net and
    leaves the old one untouched, so it copies nothing; a continued one
    (``continuing``: ``warm_start`` or ``partial_fit`` on a fitted estimator)
    trains ``net_`` itself, so its state is copied first (:class:`NetSnapshot`)
    and put back on any exception: a diverged loss, a failing user callback, a
    rejected parameter, a KeyboardInterrupt that the estimator passes on. The
    copy lives only for the call.
    """
    saved = {name: vars(estimator)[name] for name in _fitted_attributes(estimator)}
    snapshot = NetSnapshot(saved["net_"]) if continuing and "net_" in saved else None
    try:
        yield
    except BaseException:
        if snapshot is not None:
            snapshot.restore()
        for name in _fitted_attributes(estimator):
            delattr(estimator, name)
        vars(estimator).update(saved)
        raise
    finally:
        # The copies double the model's memory; they must not outlive the call.
        snapshot = None
