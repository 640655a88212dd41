"""Shared estimator logic: parameters, validation, building and training ``net_``."""

import copy
import functools
import warnings
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback, EarlyStopping, ProgressBar
from skorch.dataset import ValidSplit
from torch import nn

from ._augment import BatchAugmentation
from ._callbacks import (
    LEARNING_RATE_SCHEDULES,
    NonFiniteLossGuard,
    ValidationScore,
    learning_rate_scheduler,
)
from ._data import TensorBatchIterator, TensorPairDataset, data_device
from ._module import ACTIVATIONS, MLPModule
from ._net import RegularizedNet
from ._state import fitted_state_kept_on_error
from ._threads import torch_threads
from ._uncertainty import mc_dropout_moments
from ._validation import (
    check_finite_outputs,
    check_validation_split,
    reject_booleans_for_numbers,
    validate_input,
)
from ._weights import WeightedTarget, check_sample_weight, normalized_weights

# Rows per forward pass at prediction time: large enough to amortize per-call
# overhead, small enough that the activations of a wide layer stay in memory.
PREDICT_CHUNK_ROWS = 65536


def resolve_device(device):
    """Return ``torch.device(device)``, or raise a ValueError naming what is wrong with it."""
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a torch device; use 'cpu', 'cuda' or 'cuda:<index>'."
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested, but CUDA is not available here.")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={device!r} was requested, but MPS is not available here.")
    if resolved.type not in {"cpu", "cuda", "mps"}:
        raise ValueError(f"device={device!r} is not supported; use 'cpu', 'cuda' or 'mps'.")
    return resolved


@functools.cache
def _cpu_has_fused_adam():
    """Whether this torch has the fused Adam kernel for CPU tensors (torch 2.4 and later)."""
    try:
        torch.optim.Adam([torch.zeros(1, requires_grad=True)], fused=True)
    except (RuntimeError, ValueError, TypeError):
        return False
    return True


def uses_fused_adam(device):
    """Whether skreg's Adam on ``device`` is torch's fused implementation.

    It is on a CPU where torch has it: the fused kernel updates every parameter
    in one call instead of torch's default loop of small operations per
    parameter, which makes a CPU epoch about a tenth shorter
    (benchmarks/speed.py). Elsewhere skreg keeps torch's default.
    """
    return torch.device(device).type == "cpu" and _cpu_has_fused_adam()


def seed_torch(seed, device):
    """Seed the generators a fit on ``device`` draws from.

    ``torch.manual_seed`` also seeds every other backend; where CUDA is not
    initialized it queues that seeding (with a captured stack trace) on each
    call, which costs more than a small fit's setup and accumulates over a
    grid search.
    """
    torch.default_generator.manual_seed(seed)
    if device.type == "cuda":
        with torch.cuda.device(device):
            torch.cuda.manual_seed(seed)


def writable_tensor(array, device):
    """Torch tensor on ``device`` sharing memory with ``array`` where possible, never writing to it."""
    if not array.flags.writeable:
        # torch cannot wrap read-only memory (e.g. a read-only memmap) without a copy.
        array = array.copy()
    return torch.from_numpy(np.ascontiguousarray(array)).to(device)


class BaseRegularizedMLP(BaseEstimator, metaclass=ABCMeta):
    """Base class of skreg's estimators; use :class:`RegularizedMLPClassifier` or
    :class:`RegularizedMLPRegressor`."""

    _parameter_constraints = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout": [Interval(Real, 0, 1, closed="left"), "array-like"],
        "l1": [Interval(Real, 0, None, closed="left")],
        "l2": [Interval(Real, 0, None, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_norm": ["boolean"],
        "input_noise": [Interval(Real, 0, None, closed="left")],
        "mixup_alpha": [Interval(Real, 0, None, closed="left")],
        "solver": [StrOptions({"adam", "sgd"})],
        "learning_rate": [StrOptions(set(LEARNING_RATE_SCHEDULES))],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "mc_samples": [Interval(Integral, 1, None, closed="left")],
        "device": [str],
        "callbacks": [list, tuple, None],
        "cuda_graph": ["boolean"],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
    }

    # The regressor uses this constructor as it is; the classifier declares its own
    # to add its classifier-only parameters (sklearn reads parameters off __init__).
    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        dropout=0.0,
        l1=0.0,
        l2=0.0,
        weight_decay=0.0,
        batch_norm=False,
        input_noise=0.0,
        mixup_alpha=0.0,
        solver="adam",
        learning_rate="constant",
        learning_rate_init=0.001,
        momentum=0.9,
        batch_size="auto",
        max_iter=200,
        shuffle=True,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        random_state=None,
        verbose=0,
        warm_start=False,
        mc_samples=50,
        device="cpu",
        callbacks=None,
        cuda_graph=False,
        n_threads=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.l1 = l1
        self.l2 = l2
        self.weight_decay = weight_decay
        self.batch_norm = batch_norm
        self.input_noise = input_noise
        self.mixup_alpha = mixup_alpha
        self.solver = solver
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.mc_samples = mc_samples
        self.device = device
        self.callbacks = callbacks
        self.cuda_graph = cuda_graph
        self.n_threads = n_threads

    # ------------------------------------------------------------------ task hooks
    @abstractmethod
    def _prepare_target(self, y, continuing, partial=False, classes=None, sample_weight=None):
        """Validate ``y`` and return ``(target_array, n_outputs)``; set target attributes.

        ``partial`` is True for :meth:`partial_fit`, whose ``classes`` argument
        (classifier only) is passed on; ``sample_weight`` is the checked array
        passed to ``fit`` or None.
        """

    @abstractmethod
    def _criterion(self):
        """Return the torch loss module used for training, with ``reduction="none"``."""

    def _training_weights(self, y, sample_weight, partial):
        """Return the per-row training weights (or None) from ``sample_weight``.

        The classifier multiplies in its class weights here.
        """
        return sample_weight

    @abstractmethod
    def _validation_score_fn(self):
        """Return ``score_fn(y_true, y_pred)`` recorded as ``validation_scores_``."""

    def _stratified_split(self):
        """Whether early stopping's validation split is stratified by class."""
        return False

    def _split_class_counts(self, target):
        """Samples per class of the training ``target``, for a stratified split."""
        return None

    def _one_hot_classes(self, n_outputs):
        """Width of the one-hot encoding of class targets before mixup (None: mixed as they are)."""
        return None

    # ------------------------------------------------------------------ checks
    def _validate_params(self):
        super()._validate_params()
        reject_booleans_for_numbers(self)

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, Integral) else list(sizes)
        if not all(isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in sizes):
            raise ValueError(
                f"hidden_layer_sizes must hold positive integers, got {self.hidden_layer_sizes!r}."
            )
        return [int(s) for s in sizes]

    def _dropout_rates(self, n_layers):
        if isinstance(self.dropout, Real):
            return [float(self.dropout)] * n_layers
        rates = list(self.dropout)
        if len(rates) != n_layers:
            raise ValueError(
                f"dropout has {len(rates)} values but there are {n_layers} hidden layers; "
                "give one float, or one value per hidden layer."
            )
        for p in rates:
            if not isinstance(p, Real) or isinstance(p, bool) or not 0 <= p < 1:
                raise ValueError(f"Each dropout rate must be a float in [0, 1), got {p!r}.")
        return [float(p) for p in rates]

    def _user_callbacks(self):
        """Deep copies of the user's callbacks, so that training never changes the originals."""
        callbacks = []
        for item in self.callbacks or ():
            cb = item[1] if isinstance(item, tuple) and len(item) == 2 else item
            if not (isinstance(cb, Callback) or (isinstance(cb, type) and issubclass(cb, Callback))):
                raise TypeError(
                    f"callbacks must hold skorch callbacks or (name, callback) pairs, got {item!r}."
                )
            callbacks.append(copy.deepcopy(item))
        return callbacks

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        return min(self.batch_size, n_samples)

    # ------------------------------------------------------------------ fitting
    def _build_net(self, n_features, n_outputs, n_samples, seed, device):
        hidden = self._hidden_sizes()
        stopping = EarlyStopping(
            monitor="valid_loss" if self.early_stopping else "train_loss",
            patience=self.n_iter_no_change,
            threshold=self.tol,
            threshold_mode="abs",
            load_best=self.early_stopping,
        )
        callbacks = self._user_callbacks()
        train_split = None
        if self.early_stopping:
            callbacks.append(("valid_score", ValidationScore(self._validation_score_fn())))
            train_split = ValidSplit(
                self.validation_fraction, stratified=self._stratified_split(), random_state=seed
            )
        scheduler = learning_rate_scheduler(
            self.learning_rate, self.max_iter, self.tol, stopping.monitor
        )
        if scheduler is not None:
            callbacks.append(("lr_scheduler", scheduler))
        if self.verbose >= 2:
            callbacks.append(("progress_bar", ProgressBar()))
        # Stopping interrupts the epoch's remaining callbacks, so the score and the
        # schedule of the final epoch are recorded before it; the guard comes after
        # early stopping so that it checks the weights that stopping restores (and
        # checks every epoch when training ends).
        callbacks += [("stopping", stopping), ("guard", NonFiniteLossGuard())]
        augmentation = None
        if self.input_noise or self.mixup_alpha:
            augmentation = BatchAugmentation(
                self.input_noise, self.mixup_alpha, self._one_hot_classes(n_outputs)
            )
        if self.solver == "sgd":
            optimizer, optimizer_params = torch.optim.SGD, {"optimizer__momentum": self.momentum}
        else:
            # Decoupled weight decay with Adam is AdamW; see the ``weight_decay`` docs.
            optimizer = torch.optim.AdamW if self.weight_decay else torch.optim.Adam
            optimizer_params = {}
            if uses_fused_adam(device):
                optimizer_params["optimizer__fused"] = True
        quiet = {} if self.verbose else {"callbacks__print_log": None}
        return RegularizedNet(
            module=MLPModule,
            module__n_features=n_features,
            module__n_outputs=n_outputs,
            module__hidden_layer_sizes=hidden,
            module__activation=self.activation,
            module__dropout=self._dropout_rates(len(hidden)),
            module__batch_norm=self.batch_norm,
            criterion=self._criterion(),
            optimizer=optimizer,
            lr=self.learning_rate_init,
            max_epochs=self.max_iter,
            batch_size=self._batch_size(n_samples),
            dataset=TensorPairDataset,
            iterator_train=TensorBatchIterator,
            iterator_train__shuffle=self.shuffle,
            iterator_train__merge_single_row_tail=self.batch_norm,
            iterator_train__device=device,
            iterator_valid=TensorBatchIterator,
            iterator_valid__device=device,
            train_split=train_split,
            callbacks=callbacks,
            device=str(device),
            verbose=self.verbose,
            l1=self.l1,
            l2=self.l2,
            weight_decay=self.weight_decay,
            augmentation=augmentation,
            cuda_graph=self.cuda_graph,
            **optimizer_params,
            **quiet,
        )

    def _fit(self, X, y, sample_weight=None, *, partial=False, classes=None):
        """Train on ``X, y``: ``max_iter`` epochs for ``fit``, one epoch for ``partial_fit``."""
        with fitted_state_kept_on_error(self):
            return self._fit_unguarded(X, y, sample_weight, partial=partial, classes=classes)

    def _fit_unguarded(self, X, y, sample_weight, *, partial, classes):
        continuing = (partial or self.warm_start) and hasattr(self, "net_")
        X, y = validate_input(
            self, X, y, dtype=np.float32, reset=not continuing, **self._validate_y_kwargs
        )
        sample_weight = check_sample_weight(sample_weight, X)
        target, n_outputs = self._prepare_target(
            y, continuing, partial=partial, classes=classes, sample_weight=sample_weight
        )
        weights = self._training_weights(y, sample_weight, partial)
        if self.early_stopping:
            counts = self._split_class_counts(target) if self._stratified_split() else None
            check_validation_split(X.shape[0], self.validation_fraction, counts)
        device = resolve_device(self.device)
        if self.cuda_graph and (device.type != "cuda" or self.solver != "adam"):
            raise ValueError(
                "cuda_graph=True captures the training step in a CUDA graph: it needs "
                f"device='cuda' and solver='adam', got device={self.device!r} and "
                f"solver={self.solver!r}."
            )
        if self.batch_norm and X.shape[0] < 2:
            raise ValueError("batch_norm=True needs at least 2 samples to normalize a batch.")
        seed = self._draw_seed()
        if continuing:
            # Each continued call draws new shuffles, masks and noise, reproducibly:
            # one-epoch partial_fit calls must not repeat the same epoch.
            seed = (seed + len(self.net_.history)) % np.iinfo(np.int32).max
        cuda = [device.index or 0] if device.type == "cuda" else []
        epochs = 1 if partial else self.max_iter
        # Fitting uses torch's global generator (weight init, dropout, permutations);
        # forking keeps the caller's random state as it was.
        with torch_threads(self.n_threads), torch.random.fork_rng(devices=cuda):
            seed_torch(seed, device)
            # One copy to the device per fit when the data fits there (else batches
            # are copied one at a time, see TensorBatchIterator; weighted targets
            # always go to the device).
            placement = device
            if weights is None:
                placement = data_device(X.nbytes + target.nbytes, device)
            X_t = writable_tensor(X, placement)
            y_t = writable_tensor(target, placement)
            data = X_t
            if weights is not None:
                # The weights ride with the targets; y_t alone still drives a stratified split.
                w_t = writable_tensor(normalized_weights(weights), device).to(X_t.dtype)
                data = TensorPairDataset(X_t, WeightedTarget(y_t, w_t))
            if continuing:
                self.net_.set_params(max_epochs=epochs)
                self.net_.partial_fit(data, y_t)
            else:
                net = self._build_net(X.shape[1], n_outputs, X.shape[0], seed, device)
                net.set_params(max_epochs=epochs)
                self.net_ = net.fit(data, y_t)
        self._set_fitted_attributes(warn=not partial)
        return self

    def _set_fitted_attributes(self, warn=True):
        history = self.net_.history
        self.n_iter_ = len(history)
        self.loss_curve_ = [float(v) for v in history[:, "train_loss"]]
        stopping = dict(self.net_.callbacks_)["stopping"]
        if self.early_stopping:
            self.validation_scores_ = [float(v) for v in history[:, "valid_score"]]
            self.best_epoch_ = int(stopping.best_epoch_)
            self.best_validation_score_ = self.validation_scores_[self.best_epoch_ - 1]
        else:
            self.validation_scores_ = None
            self.best_epoch_ = None
            self.best_validation_score_ = None
            self.best_loss_ = min(self.loss_curve_)
        if warn and stopping.misses_ < stopping.patience:
            warnings.warn(
                f"Maximum iterations ({self.max_iter}) reached and the optimization hasn't "
                "converged yet.",
                ConvergenceWarning,
            )

    # ------------------------------------------------------------------ prediction
    def _draw_seed(self):
        """One int32 seed from ``random_state`` (sklearn's convention for None and instances)."""
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _prediction_input(self, X):
        """Validate ``X`` for prediction; return it with the fitted module and its device."""
        check_is_fitted(self)
        X = validate_input(self, X, dtype=np.float32, reset=False)
        module = self.net_.module_
        return X, module, next(module.parameters()).device

    @staticmethod
    def _row_chunks(X, device):
        """Yield ``X`` as device tensors of at most ``PREDICT_CHUNK_ROWS`` rows."""
        for start in range(0, X.shape[0], PREDICT_CHUNK_ROWS):
            yield writable_tensor(X[start : start + PREDICT_CHUNK_ROWS], device)

    def _forward(self, X):
        """Validate ``X`` and return the module's raw outputs as a float64 array."""
        X, module, device = self._prediction_input(X)
        module.eval()
        outputs = []
        with torch_threads(self.n_threads), torch.inference_mode():
            for chunk in self._row_chunks(X, device):
                outputs.append(module(chunk).cpu())
        return check_finite_outputs(torch.cat(outputs).numpy().astype(np.float64), X)

    def _forward_mc(self, X, transform):
        """Monte Carlo dropout: mean and std of ``transform(outputs)`` over ``mc_samples`` passes."""
        X, module, device = self._prediction_input(X)
        seed = self._draw_seed()
        means, stds = [], []
        with torch_threads(self.n_threads):
            for chunk_index, chunk in enumerate(self._row_chunks(X, device)):
                mean, std = mc_dropout_moments(
                    module, chunk, self.mc_samples, transform, seed + chunk_index
                )
                means.append(check_finite_outputs(mean, chunk.cpu().numpy()))
                stds.append(std)
        return np.concatenate(means), np.concatenate(stds)

    @property
    def feature_importances_(self):
        """Importance of each input feature, from the first layer's weights.

        The L2 norm of each input's column in the first weight matrix,
        normalized to sum to one: an input the network ignores has a column of
        zeros. An ``l1`` penalty drives the columns of uninformative inputs
        toward zero, so that ``SelectFromModel`` can drop them. Norms are
        comparable across features only when the features share a scale
        (standardize ``X``).

        Returns
        -------
        ndarray of shape (n_features_in_,)
        """
        check_is_fitted(self)
        first = next(m for m in self.net_.module_.modules() if isinstance(m, nn.Linear))
        norms = first.weight.detach().norm(dim=0).cpu().numpy().astype(np.float64)
        total = norms.sum()
        return norms / total if total > 0 else norms
