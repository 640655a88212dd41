"""The skorch net that trains a skreg module: skorch's loop, skreg's loss and data path."""

import functools
import inspect

from skorch import NeuralNet
from skorch.dataset import unpack_data
from torch import nn
from torch.nn import functional as F

from ._augment import AugmentedIterator
from ._captured import CapturedStepMixin
from ._data import TensorBatchIterator
from ._loop import LeanLoopMixin
from ._output import LogisticLoss
from ._penalty import InPlacePenalty, is_penalized, penalized_weights, weight_penalty
from ._random import EpochGenerators, initialization_generator
from ._weights import split_target


@functools.cache
def takes_generator(function):
    """Whether ``function`` (a module's ``__init__`` or ``forward``) takes a ``generator``."""
    return "generator" in inspect.signature(function).parameters


class RegularizedNet(CapturedStepMixin, LeanLoopMixin, NeuralNet):
    """A :class:`skorch.NeuralNet` whose training loss carries the L1/L2 weight penalty.

    The criterion must return one loss per row (``reduction="none"``): the net
    averages it, weighted by the sample weights when the targets come wrapped
    in a :class:`skreg._weights.WeightedTarget`.

    Its epoch loop is skorch's, with the per-batch bookkeeping that has no
    effect skipped (see :class:`skreg._loop.LeanLoopMixin`).

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
        :class:`skreg._captured.CapturedStepMixin`. On a CPU device the same
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

    def epoch_generators(self):
        """The generators of the running fit (None with ``seed=None``), made once per fit.

        They are dropped at the end of the fit (see ``on_train_end``): every
        epoch reseeds them, so they hold nothing that the next call needs.
        """
        if self.seed is None:
            return None
        generators = self.__dict__.get("_epoch_generators")
        if generators is None or generators.seed != self.seed:
            generators = EpochGenerators(self.seed)
            # Bypass skorch's __setattr__, which treats new attributes as parameters.
            self.__dict__["_epoch_generators"] = generators
        return generators

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_begin(net, dataset_train, dataset_valid, **kwargs)
        generators = self.epoch_generators()
        if generators is not None:
            # The history counts this fit's epochs and those of earlier partial_fit calls.
            generators.start(len(self.history))

    def infer(self, x, **fit_params):
        generators = self.epoch_generators()
        if (
            generators is not None and self.module_.training
            and takes_generator(type(self.module_).forward)
        ):
            fit_params["generator"] = generators.on(self.device)
        return super().infer(x, **fit_params)

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
            loss = loss + weight_penalty(self._in_place_penalty().weights, self.l1, l2)
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
            return AugmentedIterator(iterator, self.augmentation, generator)
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
        return args, kwargs

    def _in_place_penalty(self):
        """The module's weight matrices and the penalty's buffers, made once per module.

        Walking the module tree and allocating the buffers every step would cost
        a few percent of a small network's step. A module re-initialized by
        skorch is a new object, which the identity check notices; the cache
        lives for one fit (see ``on_train_end``), which also gives the weights
        their own memory back if the training step had them share the penalty's
        flat buffer.
        """
        module = self.module_
        cache = self.__dict__.get("_penalty_cache")
        if cache is None or cache[0] is not module:
            cache = (module, InPlacePenalty(penalized_weights(module)))
            # Bypass skorch's __setattr__, which treats new attributes as parameters.
            self.__dict__["_penalty_cache"] = cache
        return cache[1]

    # The callback whose KeyboardInterrupt is the stopping rule's request to end training
    # (skorch's way for a callback to stop it), not an interruption.
    stopping_callback = "stopping"

    @property
    def training_interrupted(self):
        """Whether the last training call ended on a KeyboardInterrupt other than the
        stopping rule's: Ctrl-C, or a callback that raised one."""
        return self.__dict__.get("_interrupted", False)

    def notify(self, method_name, **cb_kwargs):
        """As skorch's ``notify``; at the end of an epoch, a KeyboardInterrupt that a
        callback other than the stopping rule raises waits until every callback has
        seen the epoch's end, so that the epoch is finished (its score, schedule and
        stopping rule) before training stops."""
        if method_name != "on_epoch_end":
            return super().notify(method_name, **cb_kwargs)
        self.on_epoch_end(self, **cb_kwargs)
        interrupt = None
        for name, callback in self.callbacks_:
            try:
                callback.on_epoch_end(self, **cb_kwargs)
            except KeyboardInterrupt as exc:
                if name == self.stopping_callback:
                    raise
                interrupt = interrupt or exc
                # Bypass skorch's __setattr__, which treats new attributes as parameters.
                self.__dict__["_interrupted"] = True
        if interrupt is not None:
            raise interrupt
        return None

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        self.__dict__["_interrupted"] = False
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except BaseException as exc:
            stopping = dict(self.callbacks_).get(self.stopping_callback)
            if isinstance(exc, KeyboardInterrupt) and not getattr(stopping, "stopped_", False):
                # Ctrl-C: skorch's partial_fit keeps the epochs done and ends training
                # as usual; the estimator reads the flag to report it.
                self.__dict__["_interrupted"] = True
            # skorch's partial_fit skips on_train_end when training raises (a
            # diverged loss, say): the state of the fit (the penalty's buffer
            # holding the weights, a captured graph and its device memory) must
            # not outlive it any more than after a fit that ends.
            self.on_train_end(self)
            raise

    def on_train_end(self, net, **kwargs):
        cache = self.__dict__.pop("_penalty_cache", None)
        if cache is not None:
            cache[1].release()
        self.__dict__.pop("_epoch_generators", None)
        return super().on_train_end(net, **kwargs)

    def train_step_single(self, batch, **fit_params):
        """skorch's training step, with the penalty's gradient added in place after backward.

        ``get_loss(training=True)`` is differentiable through the penalty, but
        backpropagating through it costs more passes over the weights than
        adding ``l1 * sign(w) + l2 * w`` to their gradients directly. The step
        therefore backpropagates the data loss (``get_loss`` with
        ``training=False``), adds the penalty's gradient before
        ``on_grad_computed`` runs, and reports the same penalized loss.
        """
        if not (self.l1 or self.l2 or self.alpha):
            return super().train_step_single(batch, **fit_params)
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        y_pred = self.infer(Xi, **fit_params)
        data_loss = self.get_loss(y_pred, yi, X=Xi, training=False)
        data_loss.backward()
        penalty = self._in_place_penalty()
        if not penalty.shares_storage:
            # The weights live in the penalty's flat buffer for the rest of the
            # fit, which saves copying them there at every step.
            penalty.share_storage()
        loss = penalty(self.l1, self.batch_l2(len(y_pred)), data_loss.detach())
        return {"loss": loss, "y_pred": y_pred}
