"""skorch's training loop with its fixed per-batch cost taken out.

For a small network on in-memory data, a training step takes a few hundred
microseconds, and skorch's bookkeeping around it (switching every submodule to
training mode, calling every callback's no-op batch hooks, ``get_len`` and
``to_tensor`` on tensors) adds a quarter to a third on top. The overrides
below keep skorch's behaviour (the same history, the same callback calls for
every callback that defines them) and only skip work that has no effect.
"""

import torch
from skorch.callbacks import Callback

from ._callbacks import BatchLossAverage

# Hooks that skorch fires once or more per batch; the other hooks fire at most
# once per epoch, where skipping no-op calls would gain nothing.
BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_grad_computed")


def defines_hook(callback, name):
    """Whether ``callback.<name>`` does something, i.e. is not ``Callback``'s no-op."""
    method = getattr(callback, name, None)
    return getattr(method, "__func__", method) is not getattr(Callback, name)


class LeanLoopMixin:
    """Mixin for a :class:`skorch.NeuralNet` fed by :class:`skreg._data.TensorBatchIterator`."""

    def get_default_callbacks(self):
        """skorch's defaults, with the epoch loss averages computed by :class:`BatchLossAverage`."""
        lean = {
            "train_loss": BatchLossAverage(name="train_loss", on_train=True),
            "valid_loss": BatchLossAverage(name="valid_loss"),
        }
        return [(name, lean.get(name, cb)) for name, cb in super().get_default_callbacks()]

    def _batch_listeners(self, name):
        """Callbacks that define the batch hook ``name``, cached per ``callbacks_`` list."""
        callbacks = self.callbacks_
        cache = self.__dict__.get("_listener_cache")
        if cache is None or cache[0] is not callbacks or cache[1] != len(callbacks):
            table = {
                hook: [cb for _, cb in callbacks if defines_hook(cb, hook)] for hook in BATCH_HOOKS
            }
            cache = (callbacks, len(callbacks), table)
            # Bypass skorch's __setattr__, which treats every new attribute as a parameter.
            self.__dict__["_listener_cache"] = cache
        return cache[2][name]

    def notify(self, method_name, **cb_kwargs):
        """As skorch's ``notify``, but batch hooks only reach callbacks that define them."""
        if method_name not in BATCH_HOOKS:
            return super().notify(method_name, **cb_kwargs)
        getattr(self, method_name)(self, **cb_kwargs)
        for callback in self._batch_listeners(method_name):
            getattr(callback, method_name)(self, **cb_kwargs)
        return None

    def _set_training(self, training=True):
        """Switch modules and criteria to ``training`` mode, skipping those already in it.

        skorch calls this before every batch; ``Module.train`` walks every
        submodule, which costs tens of microseconds on each call. ``train`` and
        ``eval`` always set the whole tree, so the top module's flag tells.
        """
        for name in self._modules + self._criteria:
            module = getattr(self, name + "_")
            if isinstance(module, torch.nn.Module) and module.training != training:
                module.train(training)

    def infer(self, x, **fit_params):
        """As skorch's ``infer``; a tensor batch goes straight to the module (``to_tensor``
        would only call ``x.to(device)`` on it)."""
        if isinstance(x, torch.Tensor) and self.device is not None:
            return self.module_(x.to(self.device), **fit_params)
        return super().infer(x, **fit_params)

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """skorch's epoch pass, recording the batch size with ``len`` instead of ``get_len``.

        The history entries and callback calls are the same as skorch's:
        ``<prefix>_loss`` and ``<prefix>_batch_size`` per batch and
        ``<prefix>_batch_count`` per epoch.
        """
        if iterator is None:
            return
        history = self.history
        batch_count = 0
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            history.record_batch(prefix + "_loss", step["loss"].item())
            history.record_batch(prefix + "_batch_size", len(batch[0]))
            self.notify("on_batch_end", batch=batch, training=training, **step)
            batch_count += 1
        history.record(prefix + "_batch_count", batch_count)
