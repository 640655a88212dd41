"""Many networks of one architecture trained at once, as one stacked network.

A search trains every candidate on every fold: ``k`` small networks with the same layer
sizes. Stacking their weights along a leading member axis (shape ``(k, n_in, n_out)``)
turns ``k`` small matrix products per layer into one batched product, and ``k`` optimizer
steps into one; that pays where each network alone is too small to keep the cores busy.

Each member has its own dropout rates, L1/L2 penalties (and sklearn's ``alpha``), decoupled
weight decay and learning rate. Adam divides the gradient by its running scale, so a
per-member learning rate cannot be folded into the loss: :class:`StackedAdam` scales each
member's update itself. Every member of one fold sees the same batches; every draw (initial
weights, permutations, dropout masks) comes from generators seeded from the fit's seed (see
:mod:`skreg._random`), so a seed gives the same training.
"""

import itertools
import math

import numpy as np
import torch
from torch.nn import functional as F

from ._random import EPOCH, derived_seed, initialization_generator, seeded_generator

ACTIVATION_FUNCTIONS = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "logistic": torch.sigmoid,
    "identity": lambda x: x,
    "gelu": F.gelu,
    "silu": F.silu,
}


def _member_column(values, device):
    """``values`` (one per member) as a float32 tensor of shape (k, 1, 1)."""
    return torch.as_tensor(np.asarray(values, dtype=np.float32), device=device).reshape(-1, 1, 1)


class StackedAdam:
    """Adam, or AdamW with ``weight_decay``, over stacked tensors, with per-member settings.

    The update of each member is torch's ``Adam``/``AdamW`` update with that member's
    learning rate and weight decay (shape (k, 1, 1) tensors). Weight decay applies to the
    weight matrices only (``decayed`` marks them), as in skreg's estimators.

    Parameters
    ----------
    params : list of tensor
        Leaf tensors of shape (k, ...), whose ``grad`` :meth:`step` reads.
    decayed : list of bool
        Whether each tensor gets weight decay.
    lr, weight_decay : tensor of shape (k, 1, 1)
    betas : (float, float)
    eps : float
    """

    def __init__(self, params, decayed, lr, weight_decay, betas, eps):
        self.params = params
        self.decayed = decayed
        self.lr = lr
        self.weight_decay = weight_decay
        self.betas = betas
        self.eps = eps
        self.steps = torch.zeros_like(lr)
        self.exp_avg = [torch.zeros_like(p) for p in params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self, stepping=None):
        """One update from the parameters' gradients.

        ``stepping`` (bool tensor of shape (k,), or None for all) marks the members
        that had rows in this batch; the others keep their weights and state.
        """
        beta1, beta2 = self.betas
        keep = None if stepping is None else stepping.reshape(-1, 1, 1)
        steps = self.steps + (1 if keep is None else keep.to(self.steps.dtype))
        bias1 = 1 - beta1**steps
        bias2_sqrt = (1 - beta2**steps).sqrt()
        step_size = self.lr / bias1
        decay = 1 - self.lr * self.weight_decay
        for i, p in enumerate(self.params):
            grad = p.grad
            m = self.exp_avg[i] * beta1 + grad * (1 - beta1)
            v = self.exp_avg_sq[i] * beta2 + grad * grad * (1 - beta2)
            new = p * decay if self.decayed[i] else p
            new = new - step_size * m / (v.sqrt() / bias2_sqrt + self.eps)
            if keep is not None:
                m, v, new = (torch.where(keep, a, b) for a, b in
                             ((m, self.exp_avg[i]), (v, self.exp_avg_sq[i]), (new, p)))
            self.exp_avg[i], self.exp_avg_sq[i] = m, v
            p.copy_(new)
        self.steps = steps

    def select(self, members):
        """Keep the state of ``members`` (an index tensor) only, in that order."""
        self.lr, self.weight_decay, self.steps = (
            t[members] for t in (self.lr, self.weight_decay, self.steps)
        )
        self.exp_avg = [t[members] for t in self.exp_avg]
        self.exp_avg_sq = [t[members] for t in self.exp_avg_sq]


class StackedTrainer:
    """Train ``k`` MLPs of the same layer sizes at once, each on the training rows of its fold.

    Parameters
    ----------
    X : tensor of shape (n_samples, n_features)
        All rows, on the training device.
    fold_targets : tensor of shape (n_folds, n_samples, ...)
        The training target of every row as each fold encodes it (a regressor
        standardizes with its fold's training rows).
    folds : list of (ndarray, ndarray)
        The training and held-out rows of each fold.
    member_fold : sequence of int
        The fold of each member.
    settings : dict of sequences
        One value per member of ``dropout`` (a sequence of one rate per hidden
        layer), ``l1``, ``l2``, ``alpha``, ``weight_decay`` and ``learning_rate_init``.
    hidden_layer_sizes : sequence of int
    n_outputs : int
    activation : str
        A key of ``ACTIVATION_FUNCTIONS``.
    criterion : torch loss module
        Per-row losses (``reduction="none"``), as the estimator's own.
    batch_size : int
    shuffle : bool
    betas : (float, float)
    epsilon : float
    seed : int
        The stack's seed: initial weights from ``(seed, INITIALIZATION)``, the
        draws of epoch ``e`` from ``(seed, EPOCH, e)``.
    """

    def __init__(
        self, X, fold_targets, folds, member_fold, settings, *, hidden_layer_sizes, n_outputs,
        activation, criterion, batch_size, shuffle, betas, epsilon, seed,
    ):
        device = X.device
        self.X = X
        self.fold_targets = fold_targets
        self.train_rows = [torch.as_tensor(t, device=device) for t, _ in folds]
        self.valid_rows = [np.asarray(v) for _, v in folds]
        self.member_fold = torch.as_tensor(np.asarray(member_fold), device=device)
        self.members = torch.arange(len(member_fold), device=device)
        self.activation = ACTIVATION_FUNCTIONS[activation]
        self.criterion = criterion
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        k = len(member_fold)
        self.keep_prob = [
            _member_column([1 - rates[layer] for rates in settings["dropout"]], device)
            for layer in range(len(hidden_layer_sizes))
        ]
        self.l1 = torch.as_tensor(settings["l1"], dtype=torch.float32, device=device)
        self.l2 = torch.as_tensor(settings["l2"], dtype=torch.float32, device=device)
        self.alpha = torch.as_tensor(settings["alpha"], dtype=torch.float32, device=device)
        self.weights, self.biases = self._initial_weights(
            k, X.shape[1], list(hidden_layer_sizes), n_outputs, device
        )
        params = [t for pair in zip(self.weights, self.biases) for t in pair]
        self.optimizer = StackedAdam(
            # Weight matrices and biases alternate; only the matrices are decayed.
            params, [i % 2 == 0 for i in range(len(params))],
            _member_column(settings["learning_rate_init"], device),
            _member_column(settings["weight_decay"], device), betas, epsilon,
        )
        self._held_out = None

    def _initial_weights(self, k, n_features, hidden, n_outputs, device):
        """torch's default ``nn.Linear`` initialization, drawn member by member, layer by layer.

        Drawn on the CPU, as skreg's modules are, so that a seed gives the same
        weights on every device.
        """
        generator = initialization_generator(self.seed)
        sizes = [n_features] + hidden + [n_outputs]
        weights, biases = [], []
        for n_in, n_out in itertools.pairwise(sizes):
            bound = 1 / math.sqrt(n_in)
            w = torch.empty(k, n_in, n_out).uniform_(-bound, bound, generator=generator)
            b = torch.empty(k, 1, n_out).uniform_(-bound, bound, generator=generator)
            weights.append(w.to(device).requires_grad_())
            biases.append(b.to(device).requires_grad_())
        return weights, biases

    def member_arrays(self, position):
        """``(coefs, intercepts)`` of the member at ``position``: sklearn's layouts, float64."""
        coefs = [w[position].detach().cpu().double().numpy() for w in self.weights]
        intercepts = [b[position, 0].detach().cpu().double().numpy() for b in self.biases]
        return coefs, intercepts

    def forward(self, X, generator=None):
        """Outputs of every member for its rows ``X`` of shape (k, n_rows, n_features).

        With a ``generator``, dropout masks (inverted scaling, each member its
        own rates) are drawn from it; without, dropout is off.
        """
        h = X
        last = len(self.weights) - 1
        for layer, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if layer == last:
                break
            h = self.activation(h)
            keep = self.keep_prob[layer]
            if generator is not None and bool((keep < 1).any()):
                mask = torch.empty_like(h).uniform_(generator=generator) < keep
                h = h * mask / keep
        return h

    def _penalty(self, n_rows):
        """Each member's L1/L2 penalty (sklearn's ``alpha`` divided by its batch's rows)."""
        l2 = self.l2 + self.alpha / n_rows.clamp_min(1)
        total = 0
        for w in self.weights:
            if bool((self.l1 > 0).any()):
                total = total + self.l1 * w.abs().sum(dim=(1, 2))
            total = total + 0.5 * l2 * (w * w).sum(dim=(1, 2))
        return total

    def _batches(self, generator):
        """Each fold's batches of row indices this epoch, padded: ``(rows, valid)`` per batch."""
        orders = []
        for rows in self.train_rows:
            if self.shuffle:
                order = torch.randperm(len(rows), generator=generator, device="cpu")
                rows = rows[order.to(rows.device)]
            orders.append(rows)
        n_batches = max(math.ceil(len(rows) / self.batch_size) for rows in orders)
        for index in range(n_batches):
            parts = [rows[index * self.batch_size : (index + 1) * self.batch_size]
                     for rows in orders]
            width = max(len(p) for p in parts)
            batch = torch.zeros(len(parts), width, dtype=torch.long, device=self.X.device)
            valid = torch.zeros(len(parts), width, dtype=torch.bool, device=self.X.device)
            for fold, part in enumerate(parts):
                batch[fold, : len(part)] = part
                valid[fold, : len(part)] = True
            yield batch, valid

    def _member_loss(self, outputs, targets, valid):
        """Each member's mean loss over its batch's valid rows, shape (k,)."""
        k, n, n_out = outputs.shape
        per_row = self.criterion(
            outputs.reshape(k * n, n_out), targets.reshape(k * n, *targets.shape[2:])
        )
        if per_row.ndim > 1:
            per_row = per_row.mean(dim=tuple(range(1, per_row.ndim)))
        per_row = per_row.reshape(k, n) * valid
        return per_row.sum(dim=1) / valid.sum(dim=1).clamp_min(1)

    def run_epoch(self):
        """Train every remaining member for one epoch; returns the mean training loss of each."""
        self.epoch += 1
        self._held_out = None
        device = self.X.device
        seed = derived_seed(self.seed, EPOCH, self.epoch)
        order_generator = seeded_generator(seed, "cpu")
        mask_generator = seeded_generator(seed, device)
        folds = self.member_fold
        losses, batches = 0, 0
        for batch, valid in self._batches(order_generator):
            rows, valid = batch[folds], valid[folds]
            n_rows = valid.sum(dim=1)
            outputs = self.forward(self.X[rows], mask_generator)
            targets = self.fold_targets[folds.unsqueeze(1), rows]
            loss = self._member_loss(outputs, targets, valid) + self._penalty(n_rows)
            for p in self.optimizer.params:
                p.grad = None
            loss.sum().backward()
            stepping = n_rows > 0
            self.optimizer.step(None if bool(stepping.all()) else stepping)
            losses = losses + loss.detach()
            batches += 1
        return (losses / batches).cpu().numpy()

    @torch.no_grad()
    def held_out_outputs(self):
        """The outputs of each remaining member on its fold's held-out rows (list of tensors)."""
        folds = self.member_fold.tolist()
        width = max(len(v) for v in self.valid_rows)
        rows = torch.zeros(len(folds), width, dtype=torch.long, device=self.X.device)
        for position, fold in enumerate(folds):
            held_out = self.valid_rows[fold]
            rows[position, : len(held_out)] = torch.as_tensor(held_out, device=self.X.device)
        outputs = self.forward(self.X[rows])
        return [outputs[p, : len(self.valid_rows[f])] for p, f in enumerate(folds)]

    def select(self, positions):
        """Keep the members at ``positions`` (of the remaining ones) and drop the others."""
        index = torch.as_tensor(np.asarray(positions, dtype=np.int64), device=self.X.device)
        with torch.no_grad():
            for tensors in (self.weights, self.biases):
                for i, t in enumerate(tensors):
                    tensors[i] = t[index].detach().requires_grad_()
        self.optimizer.params = [t for pair in zip(self.weights, self.biases) for t in pair]
        self.optimizer.select(index)
        self.keep_prob = [t[index] for t in self.keep_prob]
        self.l1, self.l2, self.alpha = self.l1[index], self.l2[index], self.alpha[index]
        self.member_fold = self.member_fold[index]
        self.members = self.members[index]
