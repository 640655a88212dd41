"""What one training call of a :class:`skreg._net.RegularizedNet` holds, kept by a callback.

A call to ``fit`` or ``partial_fit`` draws from generators reseeded at every
epoch, adds the penalty's gradient through buffers made once, and with
``cuda_graph=True`` trains through a captured step. That state belongs to the
call, not to the net's parameters: :class:`FitState`, one of the net's default
callbacks, makes it when training begins and drops it when training ends.
skorch takes every attribute of a net whose name does not end in an underscore
for a parameter (it would appear in ``get_params`` and be passed to clones),
so the net refers to the state as ``fit_state_`` only.
"""

from skorch import NeuralNet
from skorch.callbacks import Callback

from ._penalty import InPlacePenalty, penalized_weights
from ._random import EpochGenerators


def defines_hook(callback, name):
    """Whether ``callback.<name>`` does something, i.e. is not ``Callback``'s no-op."""
    method = getattr(callback, name, None)
    return getattr(method, "__func__", method) is not getattr(Callback, name)


class FitState(Callback):
    """The state of the running training call of a net, made and dropped with the call.

    On ``on_train_begin`` it becomes the net's ``fit_state_``; on
    ``on_train_end`` that is set back to None and the state is released.

    skorch's ``partial_fit`` skips ``on_train_end`` when training raises
    anything but a ``KeyboardInterrupt``. So that the weights of a net whose
    training raised between epochs (a diverged loss, say) still have their own
    memory, the weights leave the penalty's flat buffer at every epoch's end
    (and return to it at the next step, one copy per epoch); whatever else an
    exception leaves (the penalty's buffers, the captured step and its device
    memory) is released when the next training call begins, or with the net.

    Attributes
    ----------
    generators_ : skreg._random.EpochGenerators or None
        The generators of the call's epochs; None when the net has no seed.
    captured_ : skreg._captured.CapturedStep or None
        The training step of a :class:`skreg._captured.CapturedStepNet`, set by
        its ``get_iterator``.
    grad_listeners_ : bool
        Whether the net or one of its callbacks defines ``on_grad_computed``,
        which the training step then notifies (skorch notifies it even when
        nothing listens).
    """

    def initialize(self):
        self._forget()
        return self

    def _forget(self):
        self.generators_ = None
        self.captured_ = None
        self.grad_listeners_ = False
        self.penalty_ = None

    def on_train_begin(self, net, **kwargs):
        self.release()
        net.fit_state_ = self
        self.generators_ = None if net.seed is None else EpochGenerators(net.seed)
        self.grad_listeners_ = type(net).on_grad_computed is not NeuralNet.on_grad_computed or any(
            defines_hook(callback, "on_grad_computed") for _, callback in net.callbacks_
        )

    def on_epoch_begin(self, net, **kwargs):
        if self.generators_ is not None:
            # The history counts this call's epochs and those of earlier partial_fit calls.
            self.generators_.start(len(net.history))

    def on_epoch_end(self, net, **kwargs):
        if self.penalty_ is not None:
            self.penalty_[1].release()

    def on_train_end(self, net, **kwargs):
        self.release()
        net.fit_state_ = None

    def penalty(self, module):
        """The weight matrices of ``module`` and the penalty's buffers, made once per module.

        Walking the module tree and allocating the buffers every step would
        cost a few percent of a small network's step. A module re-initialized
        by skorch is a new object, which the identity check notices.
        """
        if self.penalty_ is None or self.penalty_[0] is not module:
            self.penalty_ = (module, InPlacePenalty(penalized_weights(module)))
        return self.penalty_[1]

    def release(self):
        """Drop the call's state; the weights get their own memory back."""
        if self.penalty_ is not None:
            self.penalty_[1].release()
        self._forget()
