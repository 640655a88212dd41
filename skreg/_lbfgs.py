"""Full-batch L-BFGS training of a skreg net, as scikit-learn's MLP trains with ``solver="lbfgs"``.

scikit-learn hands the flattened weights and biases of its network to
``scipy.optimize.minimize(method="L-BFGS-B", jac=True)`` with
``options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol}``, and reads
``n_iter_`` and ``loss_`` off the result. :func:`train_lbfgs` does the same
with the parameters of an initialized skorch net's module. The objective is
evaluated in float64 on a float64 copy of the module (float32's resolution of
the loss, about 1e-7 relative, is above tolerances such as ``tol=1e-7``), over
the training rows in chunks whose losses and gradients are accumulated, so
that memory stays bounded for large ``X``. The final weights are written back
to the module.
"""

import copy
import time
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.optimize
import scipy.sparse as sp
import torch
from sklearn.utils.optimize import _check_optimize_result
from torch import nn

from ._penalty import penalized_weights, weight_penalty
from ._weights import WeightedTarget, normalized_weights

# Memory one chunk of rows may take in the objective: its float64 inputs and the
# activations that backpropagation keeps (estimated at three values a hidden unit).
CHUNK_BYTES = 64 * 2**20


def check_lbfgs_options(estimator, device):
    """Raise a ValueError for the settings that L-BFGS cannot train with.

    L-BFGS builds a model of a deterministic objective from its values and
    gradients at successive points; dropout masks, input noise and mixup
    partners drawn anew at each evaluation make the objective random, and its
    line search fails. Decoupled weight decay and callbacks belong to skorch's
    epoch loop, which L-BFGS does not run.
    """
    random_parts = [
        name for name, on in (
            ("dropout", np.any(np.asarray(estimator.dropout, dtype=float) > 0)),
            ("input_noise", estimator.input_noise > 0),
            ("mixup_alpha", estimator.mixup_alpha > 0),
        ) if on
    ]
    if random_parts:
        raise ValueError(
            f"solver='lbfgs' needs a deterministic objective, but {', '.join(random_parts)} "
            "draw(s) new random values at every evaluation, which breaks L-BFGS's line search. "
            "Set them to 0, or use solver='adam' or 'sgd'."
        )
    if estimator.weight_decay:
        raise ValueError(
            "weight_decay is the decoupled weight decay of a stochastic optimizer; "
            "solver='lbfgs' minimizes an objective: penalize the weights with l2 instead."
        )
    if estimator.callbacks:
        raise ValueError(
            "callbacks run in skorch's epoch loop, which solver='lbfgs' does not use; "
            "pass callbacks=None, or use solver='adam' or 'sgd'."
        )
    if device.type == "mps":
        raise ValueError("solver='lbfgs' optimizes in float64, which MPS devices do not support.")


def check_deterministic_net(net):
    """Raise a ValueError if the net's training objective draws random values.

    The estimator's parameters are checked by :func:`check_lbfgs_options`; this
    checks the net itself, which a warm start may have built with dropout or
    augmentation under other settings.
    """
    dropout = [m for m in net.module_.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]
    if any(m.p > 0 for m in dropout) or getattr(net, "augmentation", None) is not None:
        raise ValueError(
            "solver='lbfgs' needs a deterministic objective, but the network was built with "
            "dropout or augmentation (input_noise, mixup_alpha); fit it anew with them at 0 "
            "(warm_start=False)."
        )


def has_stochastic_solver(estimator):
    """Whether ``partial_fit`` is available: with a stochastic solver, as in scikit-learn.

    For ``sklearn.utils.metaestimators.available_if``: raising AttributeError
    makes ``hasattr(estimator, "partial_fit")`` False and says why.
    """
    if estimator.solver == "lbfgs":
        raise AttributeError(
            "partial_fit is only available for stochastic solvers ('adam', 'sgd'); "
            "'lbfgs' is not stochastic."
        )
    return True


@dataclass
class LBFGSResult:
    """What one call to :func:`train_lbfgs` reports.

    Attributes
    ----------
    n_iter : int
        L-BFGS iterations, at most ``max_iter`` (scikit-learn's ``n_iter_``).
    loss : float
        The objective at the final weights (scikit-learn's ``loss_``).
    losses : list of float
        The objective after each iteration.
    """

    n_iter: int
    loss: float
    losses: list


def chunk_rows_for(n_features, module):
    """Rows per chunk such that a chunk takes about ``CHUNK_BYTES`` in the objective."""
    widths = sum(m.out_features for m in module.modules() if isinstance(m, nn.Linear))
    return max(1, CHUNK_BYTES // (8 * (n_features + 3 * widths)))


def _has_batch_norm(module):
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def _sparse_tensor(X, device):
    """A scipy CSR matrix as a float64 torch sparse CSR tensor on ``device``, never dense."""
    X = sp.csr_matrix(X)
    with warnings.catch_warnings():
        # torch calls its sparse CSR tensors beta; nn.Linear's product with them is exact.
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(X.indptr.astype(np.int64)),
            torch.from_numpy(X.indices.astype(np.int64)),
            torch.from_numpy(X.data.astype(np.float64)),
            size=X.shape,
            device=device,
        )


class _FullBatchObjective:
    """The training objective and its gradient as functions of the flattened parameters.

    The objective is the net's data loss on all rows (``get_loss`` with
    ``training=False``: the mean, weighted by the sample weights rescaled to mean
    one, of the criterion's per-row losses) plus
    ``l1 * sum|W| + l2 / 2 * sum W**2 + alpha / 2 * sum W**2 / alpha_rows``
    over the weight matrices. The rows are taken in chunks; each chunk's mean
    loss is weighted by its share of the rows, so the sum is the mean over all.
    With batch normalization the statistics of a batch couple its rows, so all
    rows form one chunk (a sparse ``X`` then enters as a sparse tensor, whose
    product with the first layer's weights torch computes without densifying).
    """

    def __init__(self, net, module, X, target, weights, l1, l2, alpha, alpha_rows, chunk_rows):
        self.net = net
        self.module = module
        self.params = list(module.parameters())
        self.sizes = [p.numel() for p in self.params]
        self.device = self.params[0].device
        self.X = X
        n = X.shape[0]
        self.n = n
        self.whole_batch = _has_batch_norm(module)
        step = n if self.whole_batch else chunk_rows
        self.bounds = [(start, min(start + step, n)) for start in range(0, n, step)]
        target = torch.from_numpy(np.ascontiguousarray(target)).to(self.device)
        self.target = target.double() if target.is_floating_point() else target
        self.weights = None
        if weights is not None:
            self.weights = torch.from_numpy(normalized_weights(weights)).to(self.device)
        self.l1, self.l2 = float(l1), float(l2)
        self.alpha_scale = 0.5 * float(alpha) / float(alpha_rows)
        self._sparse_whole = None

    def inputs(self, start, stop):
        """Rows ``start:stop`` of ``X`` as a float64 tensor; a sparse ``X`` densified by chunk."""
        if not sp.issparse(self.X):
            return torch.from_numpy(self.X[start:stop]).to(self.device, torch.float64)
        if self.whole_batch:
            if self._sparse_whole is None:
                self._sparse_whole = _sparse_tensor(self.X, self.device)
            return self._sparse_whole
        return torch.from_numpy(self.X[start:stop].toarray()).to(self.device, torch.float64)

    def targets(self, start, stop):
        target = self.target[start:stop]
        if self.weights is None:
            return target
        return WeightedTarget(target, self.weights[start:stop])

    def set_parameters(self, x):
        with torch.no_grad():
            parts = torch.from_numpy(x).to(self.device).split(self.sizes)
            for p, part in zip(self.params, parts):
                p.copy_(part.view_as(p))

    def flat_parameters(self):
        with torch.no_grad():
            return torch.cat([p.reshape(-1) for p in self.params]).cpu().numpy()

    def penalty(self):
        weights = penalized_weights(self.module)
        value = weight_penalty(weights, self.l1, self.l2)
        if self.alpha_scale:
            value = value + self.alpha_scale * sum((w * w).sum() for w in weights)
        return value

    def __call__(self, x):
        self.set_parameters(x)
        for p in self.params:
            p.grad = None
        total = 0.0
        for start, stop in self.bounds:
            Xc = self.inputs(start, stop)
            loss = self.net.get_loss(self.module(Xc), self.targets(start, stop), X=Xc,
                                     training=False)
            loss = loss * ((stop - start) / self.n)
            loss.backward()
            total += loss.item()
            # Free this chunk before the next one is made: one chunk in memory at a time.
            del Xc, loss
        penalty = self.penalty()
        if penalty.requires_grad:
            penalty.backward()
        total += penalty.item()
        grad = torch.cat([
            (p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
            for p in self.params
        ])
        return total, grad.cpu().numpy()

    def set_batch_norm_statistics(self):
        """Running statistics of every batch norm: those of the whole training set.

        With ``momentum=None`` torch's batch norm keeps the cumulative average
        of the batches it saw since its statistics were reset: after one batch,
        that batch's mean and (unbiased) variance.
        """
        batch_norm = nn.modules.batchnorm._BatchNorm
        layers = [m for m in self.module.modules() if isinstance(m, batch_norm)]
        if not layers:
            return
        momenta = [m.momentum for m in layers]
        for m in layers:
            m.reset_running_stats()
            m.momentum = None
        with torch.no_grad():
            self.module(self.inputs(0, self.n))
        for m, momentum in zip(layers, momenta):
            m.momentum = momentum


def train_lbfgs(
    net, X, target, sample_weight=None, *, l1=0.0, l2=0.0, alpha=0.0, max_iter=200,
    max_fun=15000, tol=1e-4, chunk_rows=None, verbose=0,
):
    """Train ``net.module_`` full batch with scipy's L-BFGS-B, as scikit-learn's MLP does.

    The options are scikit-learn's: ``maxfun=max_fun``, ``maxiter=max_iter``,
    ``gtol=tol`` (L-BFGS stops when the largest gradient component is at most
    ``tol``, or when the objective's relative decrease falls below scipy's
    ``ftol``). ``n_iter`` is :func:`sklearn.utils.optimize._check_optimize_result`'s
    count, which also warns with a ``ConvergenceWarning`` when L-BFGS stopped
    on ``max_iter`` or ``max_fun`` (or on a failed line search). Starting from
    the module's current weights (continued training when the net was trained
    before), it optimizes a float64 copy of the module and writes the final
    parameters, and batch-norm statistics of the whole training set, back to
    the module. One row per iteration, holding the objective as
    ``train_loss``, is appended to ``net.history``, so that the history reads as
    for a stochastic fit, one iteration per epoch.

    Parameters
    ----------
    net : skreg._net.RegularizedNet
        Initialized; its ``get_loss`` (``training=False``) gives the data loss.
    X : ndarray or scipy sparse matrix of shape (n_samples, n_features)
        Training inputs. A sparse matrix is densified one chunk at a time.
    target : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Targets as the net's criterion takes them.
    sample_weight : ndarray of shape (n_samples,) or None
        Non-negative training weights; the data loss is their weighted mean.
    l1, l2 : float
        Strengths of ``l1 * sum|W| + l2 / 2 * sum W**2`` over the weight matrices.
    alpha : float
        scikit-learn's ``alpha``: ``alpha / 2 * sum W**2`` divided, as there, by
        the sum of the sample weights (the number of rows when unweighted), so
        that integer weights still count like repeated rows.
    max_iter, max_fun : int
        Limits on iterations and on evaluations of the objective.
    tol : float
        scipy's ``gtol``.
    chunk_rows : int or None
        Rows per chunk of the objective; by default about ``CHUNK_BYTES`` of
        memory (see :func:`chunk_rows_for`).
    verbose : int
        Print the objective after each iteration when positive.

    Returns
    -------
    LBFGSResult

    Raises
    ------
    ValueError
        If the final objective or weights are not finite; the module is then
        left as it was.
    """
    check_deterministic_net(net)
    module = net.module_
    module64 = copy.deepcopy(module).to(torch.float64).train()
    n = X.shape[0]
    alpha_rows = n if sample_weight is None else float(np.sum(sample_weight))
    if chunk_rows is None:
        chunk_rows = chunk_rows_for(X.shape[1], module)
    objective = _FullBatchObjective(
        net, module64, X, target, sample_weight, l1, l2, alpha, alpha_rows, chunk_rows
    )
    losses, durations = [], []
    last = [time.monotonic()]

    def record(intermediate_result):
        # scipy passes each iterate's objective; the history gets them once training succeeded.
        losses.append(float(intermediate_result.fun))
        now = time.monotonic()
        durations.append(now - last[0])
        last[0] = now
        if verbose:
            print(f"Iteration {len(losses)}, loss = {losses[-1]:.8f}")

    result = scipy.optimize.minimize(
        objective, objective.flat_parameters(), method="L-BFGS-B", jac=True, callback=record,
        options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol},
    )
    n_iter = _check_optimize_result("lbfgs", result, max_iter)
    if not (np.isfinite(result.fun) and np.isfinite(result.x).all()):
        raise ValueError(
            "Solver produced non-finite parameter weights. The input data may contain large "
            "values and need to be preprocessed."
        )
    objective.set_parameters(result.x)
    objective.set_batch_norm_statistics()
    with torch.no_grad():
        state64 = module64.state_dict()
        for name, value in module.state_dict().items():
            value.copy_(state64[name])
    for loss, duration in zip(losses, durations):
        net.history.new_epoch()
        net.history.record("epoch", len(net.history))
        net.history.record("train_loss", loss)
        net.history.record("dur", duration)
    return LBFGSResult(n_iter=n_iter, loss=float(result.fun), losses=losses)
