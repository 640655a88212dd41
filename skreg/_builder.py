"""The skorch net a fit trains: module settings, optimizer, batch size and callbacks in order.

:class:`NetBuilderMixin` turns an estimator's flat, scikit-learn-style parameters
into the arguments of a :class:`skreg._net.RegularizedNet` (skorch's ``module__``,
``optimizer__``, ``iterator_train__`` ... prefixes), so that the user never sees them.
"""

import copy

import torch
from skorch.callbacks import Callback, ProgressBar
from skorch.helper import predefined_split

from ._augment import BatchAugmentation
from ._averaging import WeightAveraging
from ._callbacks import (
    EndTraining,
    InverseScalingLR,
    NoImprovementStopping,
    NonFiniteLossGuard,
    ValidationScore,
    learning_rate_scheduler,
)
from ._captured import CapturedStepNet
from ._data import TensorPairDataset
from ._device import uses_fused_adam
from ._module import MLPModule, residual_blocks
from ._net import RegularizedNet
from ._schedules import RegularizationSchedule
from ._sparse import batch_iterator
from ._validation import check_network_size


class NetBuilderMixin:
    """Builds the skorch net of an estimator of :class:`skreg._base.BaseRegularizedMLP`.

    It reads the estimator's parameters and its task hooks (``_criterion``,
    ``_validation_score_fn``, ``_one_hot_classes``, ``_hidden_sizes``,
    ``_dropout_rates``) and changes nothing on the estimator.
    """

    def _user_callbacks(self):
        """Deep copies of the user's callbacks, so that training never changes the originals."""
        callbacks = []
        for item in self.callbacks or ():
            cb = item[1] if isinstance(item, tuple) and len(item) == 2 else item
            is_class = isinstance(cb, type) and issubclass(cb, Callback)
            if not (isinstance(cb, Callback) or is_class):
                raise TypeError(
                    f"callbacks must hold skorch callbacks or (name, callback) pairs, got {item!r}."
                )
            callbacks.append(copy.deepcopy(item))
        return callbacks

    def _batch_size(self, n_samples):
        """Rows per training batch: sklearn's ``"auto"`` is ``min(200, n_samples)``."""
        if self.batch_size == "auto":
            return min(200, n_samples)
        return min(self.batch_size, n_samples)

    def _optimizer(self, device):
        """The torch optimizer class and its skorch ``optimizer__`` arguments for ``solver``."""
        if self.solver == "sgd":
            # torch's SGD momentum is sklearn's (velocity = momentum * velocity - lr * grad):
            # the same updates for a constant rate, Nesterov's form included.
            return torch.optim.SGD, {
                "optimizer__momentum": self.momentum,
                "optimizer__nesterov": bool(self.nesterovs_momentum and self.momentum > 0),
            }
        # Decoupled weight decay with Adam is AdamW; see the ``weight_decay`` docs.
        optimizer = torch.optim.AdamW if self.weight_decay else torch.optim.Adam
        params = {
            "optimizer__betas": (self.beta_1, self.beta_2),
            "optimizer__eps": self.epsilon,
        }
        if uses_fused_adam(device):
            params["optimizer__fused"] = True
        return optimizer, params

    def _training_callbacks(self, n_train_rows):
        """The callbacks of a new net: skreg's in the order they must run, the user's, and
        the one that ends training when the stopping rule says so."""
        callbacks = []
        if self.early_stopping:
            callbacks.append(("valid_score", ValidationScore(self._validation_score_fn())))
        scheduler = learning_rate_scheduler(self.learning_rate, self.max_iter)
        if scheduler is not None:
            callbacks.append(("lr_scheduler", scheduler))
        if self.learning_rate == "invscaling" and self.solver == "sgd":
            schedule = InverseScalingLR(self.learning_rate_init, self.power_t, n_train_rows)
            callbacks.append(("invscaling", schedule))
        if self.dropout_schedule != "constant" or self.weight_decay_schedule != "constant":
            rates = self._dropout_rates(len(self._hidden_sizes()))
            schedule = RegularizationSchedule(
                self.dropout_schedule, self.weight_decay_schedule, rates, self.weight_decay,
                self.max_iter,
            )
            callbacks.append(("regularization_schedule", schedule))
        if self.swa_start is not None:
            # Before the guard, which checks the averaged weights when training ends.
            callbacks.append(("swa", WeightAveraging(self.swa_start)))
        if self.verbose >= 2:
            callbacks.append(("progress_bar", ProgressBar()))
        stopping = NoImprovementStopping(
            self.n_iter_no_change,
            self.tol,
            self.early_stopping,
            # As in sklearn, "adaptive" (like "invscaling") is a schedule of SGD only.
            adaptive=self.learning_rate == "adaptive" and self.solver == "sgd",
        )
        # The score and the schedule of an epoch are recorded before the stopping rule
        # sees it; the guard comes after stopping so that it checks the weights that
        # stopping restores; the user's callbacks see every epoch the rule has seen,
        # and training ends after all of them (EndTraining). With early
        # stopping a diverged epoch is harmless (the best epoch is restored), so the
        # guard checks only the final weights.
        guard_keys = () if self.early_stopping else ("train_loss",)
        return callbacks + [
            (RegularizedNet.stopping_callback, stopping),
            ("guard", NonFiniteLossGuard(guard_keys)),
            *self._user_callbacks(),
            ("end_training", EndTraining(RegularizedNet.stopping_callback)),
        ]

    def _build_net(self, n_features, n_outputs, n_train_rows, device, valid_data=None, seed=None):
        """A new, uninitialized net for ``n_features`` inputs and ``n_outputs`` outputs.

        A :class:`skreg._captured.CapturedStepNet` with ``cuda_graph=True``, else a
        :class:`skreg._net.RegularizedNet`.

        ``valid_data`` (early stopping's rows) becomes skorch's predefined
        split; ``seed`` is the net's, see :class:`skreg._net.RegularizedNet`.
        """
        hidden = self._hidden_sizes()
        check_network_size(n_features, hidden, n_outputs)
        if self.residual and not any(residual_blocks(hidden)):
            raise ValueError(
                "residual=True adds skip connections between consecutive hidden layers of "
                f"equal width, but hidden_layer_sizes={self.hidden_layer_sizes!r} has none; "
                "use e.g. (64, 64, 64), or residual=False."
            )
        augmentation = None
        if self.input_noise or self.mixup_alpha:
            augmentation = BatchAugmentation(
                self.input_noise, self.mixup_alpha, self._one_hot_classes(n_outputs)
            )
        optimizer, optimizer_params = self._optimizer(device)
        quiet = {} if self.verbose else {"callbacks__print_log": None}
        # The captured step is a net class of its own, so that every other fit trains
        # through RegularizedNet's steps alone.
        net_class = CapturedStepNet if self.cuda_graph else RegularizedNet
        return net_class(
            module=MLPModule,
            module__n_features=n_features,
            module__n_outputs=n_outputs,
            module__hidden_layer_sizes=hidden,
            module__activation=self.activation,
            module__dropout=self._dropout_rates(len(hidden)),
            module__batch_norm=self.batch_norm,
            module__residual=self.residual,
            criterion=self._criterion(),
            optimizer=optimizer,
            lr=self.learning_rate_init,
            max_epochs=self.max_iter,
            batch_size=self._batch_size(n_train_rows),
            dataset=TensorPairDataset,
            iterator_train=batch_iterator,
            iterator_train__shuffle=self.shuffle,
            iterator_train__merge_single_row_tail=self.batch_norm,
            iterator_train__device=device,
            iterator_valid=batch_iterator,
            iterator_valid__device=device,
            train_split=None if valid_data is None else predefined_split(valid_data),
            callbacks=self._training_callbacks(n_train_rows),
            device=str(device),
            verbose=self.verbose,
            l1=self.l1,
            l2=self.l2,
            alpha=self.alpha,
            weight_decay=self.weight_decay,
            augmentation=augmentation,
            seed=seed,
            **optimizer_params,
            **quiet,
        )
