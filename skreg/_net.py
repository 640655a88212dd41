"""The skorch net that trains a skreg module: skorch's loop, skreg's loss and data path.

Extending skorch
----------------
:class:`RegularizedNet` changes skorch's training only through the extension
points that skorch's documentation offers ("Customization": the ``get_*``
methods, the ``initialize_*`` methods, ``train_step``, ``train_step_single``,
``validation_step``, and callbacks): it overrides ``initialize_module``,
``get_default_callbacks``, ``get_iterator``, ``get_loss``,
``get_params_for_optimizer``, ``train_step``, ``train_step_single`` and
``validation_step``, and calls nothing private of skorch. ``fit``,
``partial_fit``, ``fit_loop`` and ``run_single_epoch``, which skorch's
documentation asks to leave alone, are skorch's own, as are ``notify``,
``infer``, the net's own ``on_*`` hooks and the history that the loop writes.
The state of a training call (generators, the
penalty's buffers, the captured step of ``cuda_graph=True``) lives in the
:class:`skreg._loop.FitState` callback, so ``get_params`` holds skorch's and
skreg's parameters only. What the steps save without touching skorch's loop:
a tensor batch goes to the module without ``infer``'s conversions, modules are
switched to training or evaluation mode only when they are not in it, and
``on_grad_computed`` is notified only when the net or a callback defines it. The
captured step (:class:`skreg._captured.CapturedStep`) is made only for
``cuda_graph=True``, through ``get_iterator`` (batches gathered into its static
buffers) and ``train_step`` (the replay). Earlier versions also overrode
``fit_loop``, ``run_single_epoch``, ``notify``, ``infer``, ``on_epoch_begin``,
``on_train_end`` and skorch's private ``_set_training``, and wrote the captured
step's losses into the history's batch rows; a test
(``tests/test_net.py``) keeps the list of overrides to the documented ones.
"""

import functools
import inspect

import torch
from skorch import NeuralNet
from skorch.dataset import unpack_data
from skorch.utils import TeeGenerator
from torch import nn
from torch.nn import functional as F

from ._augment import AugmentedIterator
from ._callbacks import BatchLossAverage
from ._captured import ADAM_CLASSES, CapturedStep, records_graph
from ._data import TensorBatchIterator
from ._loop import FitState
from ._output import LogisticLoss
from ._penalty import InPlacePenalty, is_penalized, penalized_weights, weight_penalty
from ._random import initialization_generator
from ._weights import split_target


@functools.cache
def takes_generator(function):
    """Whether ``function`` (a module's ``__init__`` or ``forward``) takes a ``generator``."""
    return "generator" in inspect.signature(function).parameters


class RegularizedNet(NeuralNet):
    """A :class:`skorch.NeuralNet` whose training loss carries the L1/L2 weight penalty.

    The criterion must return one loss per row (``reduction="none"``): the net
    averages it, weighted by the sample weights when the targets come wrapped
    in a :class:`skreg._weights.WeightedTarget`.

    Its epoch loop is skorch's; its steps are skorch's documented hooks (see
    the module's docstring).

    Parameters
    ----------
    l1, l2 : float, default=0.0
        Penalty strengths, see :func:`skreg._penalty.weight_penalty`. The penalty
        is added to the loss of training batches only, so ``valid_loss`` in the
        history is the plain data loss.
    alpha : float, default=0.0
        scikit-learn's L2 term: ``0.5 * alpha * sum(W ** 2) / n_batch_rows`` is
        added to a batch's loss, i.e. an ``l2`` of ``alpha / n_batch_rows``.
    weight_decay : float, default=0.0
        The optimizer's ``weight_decay`` for the penalized weight matrices;
        biases and batch-norm parameters get none.
    augmentation : callable or None, default=None
        ``augmentation(X, y) -> (X, y)`` applied to every training batch (never
        to validation batches), e.g. :class:`skreg._augment.BatchAugmentation`.
    cuda_graph : bool, default=False
        Train through a step captured in a CUDA graph, see
        :class:`skreg._captured.CapturedStep`. On a CPU device the same
        static-buffer step runs eagerly.
    seed : int or None, default=None
        With an int, the net owns the generators it draws from (see
        :mod:`skreg._random`): the module's initial weights, when its
        constructor takes a ``generator``, and every draw of epoch ``k`` (the
        permutation, dropout masks when the module's ``forward`` takes a
        ``generator``, the augmentation) from ``(seed, k)``, so that a fit and
        as many ``partial_fit`` calls draw the same. None draws from torch's
        global generator, as a plain skorch net does.
    **kwargs
        Passed on to :class:`skorch.NeuralNet`.
    """

    def __init__(
        self, *args, l1=0.0, l2=0.0, alpha=0.0, weight_decay=0.0, augmentation=None,
        cuda_graph=False, seed=None, **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.l1 = l1
        self.l2 = l2
        self.alpha = alpha
        self.weight_decay = weight_decay
        self.augmentation = augmentation
        self.cuda_graph = cuda_graph
        self.seed = seed

    def initialize_module(self):
        kwargs = self.get_params_for("module")
        if self.seed is not None and isinstance(self.module, type) and takes_generator(
            self.module.__init__
        ):
            kwargs["generator"] = initialization_generator(self.seed)
        self.module_ = self.initialized_instance(self.module, kwargs)
        return self

    def get_default_callbacks(self):
        """skorch's defaults, with the epoch loss averages computed by :class:`BatchLossAverage`,
        and the :class:`skreg._loop.FitState` of the training call."""
        lean = {
            "train_loss": BatchLossAverage(name="train_loss", on_train=True),
            "valid_loss": BatchLossAverage(name="valid_loss"),
        }
        defaults = [(name, lean.get(name, cb)) for name, cb in super().get_default_callbacks()]
        return [("fit_state", FitState()), *defaults]

    def epoch_generators(self):
        """The generators of the running training call (None with ``seed=None``, or outside one).

        Every epoch reseeds them (see :class:`skreg._loop.FitState`), so they
        hold nothing that the next call needs.
        """
        state = getattr(self, "fit_state_", None)
        return None if state is None else state.generators_

    def infer_training(self, x, **fit_params):
        """As skorch's ``infer``, for a training batch: the module draws from the epoch's generator.

        A tensor batch goes straight to the module (``infer``'s ``to_tensor``
        would only call ``x.to(device)`` on it).
        """
        generators = self.epoch_generators()
        if generators is not None and takes_generator(type(self.module_).forward):
            fit_params["generator"] = generators.on(self.device)
        if isinstance(x, torch.Tensor) and self.device is not None:
            return self.module_(x.to(self.device), **fit_params)
        return self.infer(x, **fit_params)

    def set_mode(self, training):
        """Put ``module_`` and ``criterion_`` in training (or evaluation) mode, if they are not.

        skorch switches every module before every batch; ``Module.train`` walks
        every submodule, which costs tens of microseconds on each call, and
        always sets the whole tree, so the top module's flag tells. A subclass
        that adds modules of its own (skorch's ``initialize_module``) switches
        them itself.
        """
        for module in (self.module_, self.criterion_):
            if isinstance(module, nn.Module) and module.training != training:
                module.train(training)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        target, sample_weight = split_target(y_true)
        loss = None if sample_weight is not None else self._fused_mean_loss(y_pred, target)
        if loss is None:
            per_row = self.criterion_(y_pred, target)
            if per_row.ndim > 1:
                # Several regression outputs: the row's loss is the mean over outputs.
                per_row = per_row.mean(dim=tuple(range(1, per_row.ndim)))
            loss = per_row.mean() if sample_weight is None else (sample_weight * per_row).mean()
        if training and (self.l1 or self.l2 or self.alpha):
            l2 = self.batch_l2(len(y_pred))
            loss = loss + weight_penalty(self._penalized_weights(), self.l1, l2)
        return loss

    def batch_l2(self, n_rows):
        """The L2 strength of a batch of ``n_rows``: ``l2`` plus sklearn's ``alpha / n_rows``."""
        return self.l2 + self.alpha / n_rows

    def _fused_mean_loss(self, y_pred, target):
        """The mean of the per-row losses from the loss's own mean reduction, or None.

        For the losses skreg builds, the kernel's mean reduction gives the same
        value as the mean of the per-row losses, and saves a separate ``mean``
        and its backward node: 14-28 microseconds a step. That holds for
        cross-entropy without class weights (skreg's targets are class indices
        from 0, so no row is ever ignored), for the squared error and for the
        classifier's logistic loss (every row has as many outputs). Other
        losses, and losses built to sum, return None.
        """
        criterion = self.criterion_
        if getattr(criterion, "reduction", None) not in ("none", "mean"):
            return None
        if type(criterion) is nn.CrossEntropyLoss and criterion.weight is None:
            return F.cross_entropy(
                y_pred, target, ignore_index=criterion.ignore_index,
                label_smoothing=criterion.label_smoothing,
            )
        if type(criterion) is nn.MSELoss and y_pred.shape == target.shape:
            return F.mse_loss(y_pred, target)
        if type(criterion) is LogisticLoss and y_pred.shape == target.shape:
            return criterion.mean_loss(y_pred, target)
        return None

    def get_iterator(self, dataset, training=False):
        iterator = super().get_iterator(dataset, training=training)
        generators = self.epoch_generators() if training else None
        if generators is not None and isinstance(iterator, TensorBatchIterator):
            # The permutation is drawn where the iterator draws it: on the host for
            # data that does not fit on the device.
            iterator.generator = generators.on(iterator.order_device())
        if training and self.augmentation is not None:
            generator = None if generators is None else generators.on(self.device)
            iterator = AugmentedIterator(iterator, self.augmentation, generator)
        if training and self.cuda_graph:
            captured = CapturedStep(self, iterator, capture=records_graph(self))
            state = getattr(self, "fit_state_", None)
            if state is not None:
                state.captured_ = captured
            return captured
        return iterator

    def get_params_for_optimizer(self, prefix, named_parameters):
        named_parameters = list(named_parameters)
        args, kwargs = super().get_params_for_optimizer(prefix, named_parameters)
        if prefix == "optimizer" and self.weight_decay:
            decayed = [p for _, p in named_parameters if is_penalized(p)]
            others = [p for _, p in named_parameters if not is_penalized(p)]
            groups = [{"params": decayed, "weight_decay": self.weight_decay}]
            if others:
                groups.append({"params": others, "weight_decay": 0.0})
            args = (groups,)
        optimizer = self.optimizer
        is_adam = isinstance(optimizer, type) and issubclass(optimizer, ADAM_CLASSES)
        if prefix == "optimizer" and is_adam and records_graph(self):
            # Adam steps inside a CUDA graph only with its step count on the device.
            kwargs.setdefault("capturable", True)
        return args, kwargs

    def _penalized_weights(self):
        """The module's weight matrices: the running call's list, or collected now outside one."""
        state = getattr(self, "fit_state_", None)
        if state is None:
            return penalized_weights(self.module_)
        return state.penalty(self.module_).weights

    def train_step(self, batch, **fit_params):
        """skorch's ``train_step``: zero the gradients, ``train_step_single``, notify, update.

        ``on_grad_computed`` is notified, to the net and every callback as
        skorch does, only when one of them defines it (skorch notifies it at
        every step, and builds the generator of parameters it passes, even when
        nothing listens). With ``cuda_graph=True`` the step is the captured one.
        """
        state = getattr(self, "fit_state_", None)
        if state is not None and state.captured_ is not None:
            return state.captured_(batch, **fit_params)
        notify = state is None or state.grad_listeners_
        steps = []

        def step_fn():
            self.optimizer_.zero_grad()
            step = self.train_step_single(batch, **fit_params)
            steps.append(step)
            if notify:
                self.notify(
                    "on_grad_computed",
                    named_parameters=TeeGenerator(self.get_all_learnable_params()),
                    batch=batch,
                    training=True,
                )
            return step["loss"]

        self.optimizer_.step(step_fn)
        # As skorch's FirstStepAccumulator: an optimizer that evaluates the
        # loss several times per step reports the first evaluation.
        return steps[0]

    # The stopping rule's callback: when it decides to stop, the KeyboardInterrupt that
    # ends training (skorch's way for a callback to stop it) is not an interruption.
    stopping_callback = "stopping"

    @property
    def stopping_rule(self):
        """The net's :class:`skreg._callbacks.NoImprovementStopping`, or None without one."""
        return dict(self.callbacks_).get(self.stopping_callback)

    @property
    def training_interrupted(self):
        """Whether the last training call ended on a KeyboardInterrupt other than the
        stopping rule's: Ctrl-C, or a callback that raised one.

        skorch's ``partial_fit`` ends training as usual after a KeyboardInterrupt;
        the call was interrupted when the stopping rule neither asked to stop nor
        saw the end of every epoch the call was to train.
        """
        stopping = self.stopping_rule
        if stopping is None:
            return False
        return not stopping.stopped_ and stopping.epochs_seen_ < self.max_epochs

    def train_step_single(self, batch, **fit_params):
        """skorch's training step, with the penalty's gradient added in place after backward.

        ``get_loss(training=True)`` is differentiable through the penalty, but
        backpropagating through it costs more passes over the weights than
        adding ``l1 * sign(w) + l2 * w`` to their gradients directly. The step
        therefore backpropagates the data loss (``get_loss`` with
        ``training=False``), adds the penalty's gradient before
        ``on_grad_computed`` runs, and reports the same penalized loss.
        """
        self.set_mode(True)
        Xi, yi = unpack_data(batch)
        y_pred = self.infer_training(Xi, **fit_params)
        if not (self.l1 or self.l2 or self.alpha):
            loss = self.get_loss(y_pred, yi, X=Xi, training=True)
            loss.backward()
            return {"loss": loss, "y_pred": y_pred}
        data_loss = self.get_loss(y_pred, yi, X=Xi, training=False)
        data_loss.backward()
        state = getattr(self, "fit_state_", None)
        if state is None:  # a step outside fit or partial_fit
            penalty = InPlacePenalty(penalized_weights(self.module_))
        else:
            penalty = state.penalty(self.module_)
            if not penalty.shares_storage:
                # The weights live in the penalty's flat buffer until the epoch ends
                # (see FitState), which saves copying them there at every step.
                penalty.share_storage()
        loss = penalty(self.l1, self.batch_l2(len(y_pred)), data_loss.detach())
        return {"loss": loss, "y_pred": y_pred}

    def validation_step(self, batch, **fit_params):
        """skorch's ``validation_step``, without switching modes already set or ``infer``'s
        conversions of a tensor batch."""
        self.set_mode(False)
        Xi, yi = unpack_data(batch)
        with torch.no_grad():
            if isinstance(Xi, torch.Tensor) and self.device is not None:
                y_pred = self.module_(Xi.to(self.device), **fit_params)
            else:
                y_pred = self.infer(Xi, **fit_params)
            loss = self.get_loss(y_pred, yi, X=Xi, training=False)
        return {"loss": loss, "y_pred": y_pred}
