"""How the members of a search (one candidate on one fold) train and are scored.

Two engines train them: :class:`StackedEngine`, many members as one stacked network
(:mod:`skreg._stacked`), scored after every epoch; and :class:`OrdinaryEngine`, one
ordinary skreg estimator per member, continued with ``warm_start`` and scored every
``eval_every`` epochs. Both record into :class:`Member` and stop a member by
scikit-learn's rule on its held-out score.
"""

import copy
import time
import warnings

import numpy as np
import torch
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from ._held_out import estimator_score, output_score_fn
from ._stacked import ACTIVATION_FUNCTIONS, StackedTrainer
from ._threads import torch_threads

# Settings each member of a stacked network has for itself.
PER_MEMBER = ("dropout", "l1", "l2", "alpha", "weight_decay", "learning_rate_init")


def stackable(estimator):
    """Whether the stacked trainer trains what ``estimator`` would (Adam, plain batches)."""
    return (
        estimator.solver == "adam" and estimator.learning_rate == "constant"
        and not estimator.batch_norm and not estimator.input_noise
        and not estimator.mixup_alpha and not estimator.early_stopping
        and not estimator.callbacks and not estimator.cuda_graph
        and getattr(estimator, "class_weight", None) is None
        and estimator.activation in ACTIVATION_FUNCTIONS
    )


def frozen_outputs(template, outputs):
    """A copy of ``template`` whose predictions come from ``outputs``, for a scorer."""
    frozen = copy.copy(template)
    frozen._forward = lambda X: outputs
    return frozen


class Member:
    """One candidate on one fold: its training so far."""

    def __init__(self, candidate, fold, cap):
        self.candidate, self.fold, self.cap = candidate, fold, cap
        self.epochs, self.best_epoch, self.best_score = 0, 0, -np.inf
        self.no_improvement_epochs = 0
        self.stopped = False
        self.fit_time = self.score_time = 0.0


class OrdinaryMember:
    """Training of one member as an ordinary estimator, continued with ``warm_start``."""

    def __init__(self, estimator, X, y, train, valid):
        self.estimator = estimator.set_params(warm_start=True)
        self.X_train, self.y_train = X[train], y[train]
        self.X_valid, self.y_valid = X[valid], y[valid]


def _train_ordinary(state, epochs, scorer):
    """Fit ``state.estimator`` ``epochs`` more epochs and score it on the held-out rows.

    Returns ``(state, epochs run, score, fit seconds, score seconds)``.
    """
    est = state.estimator
    est.set_params(max_iter=epochs)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(state.X_train, state.y_train)
    fit_time = time.perf_counter() - start
    # skorch ends a fit quietly on Ctrl-C; the search passes the interruption on. (L-BFGS
    # raises it itself.)
    if est.solver != "lbfgs" and est.net_.training_interrupted:
        raise KeyboardInterrupt
    score = scorer(est, state.X_valid, state.y_valid)
    return state, est.n_iter_, float(score), fit_time, time.perf_counter() - start - fit_time


class StackedEngine:
    """The members of candidates that share their architecture, trained as one stack."""

    def __init__(self, search, X, y, folds, candidates, members, scorer, seed):
        self.search, self.members, self.scorer = search, members, scorer
        first = search._base_estimator(**candidates[members[0].candidate])
        n_jobs = search.n_jobs
        self.n_threads = first.n_threads if n_jobs is None else effective_n_jobs(n_jobs)
        device = torch.device(first.device)
        templates, targets = search._fold_targets(first, y, folds)
        self.templates, self.folds, self.X, self.y = templates, folds, X, y
        hidden = first._hidden_sizes()
        settings = {name: [] for name in PER_MEMBER}
        for m in members:
            est = search._base_estimator(**candidates[m.candidate])
            for name in PER_MEMBER:
                value = getattr(est, name)
                settings[name].append(est._dropout_rates(len(hidden)) if name == "dropout"
                                      else float(value))
        self.score_fn = output_score_fn(templates[0])
        self.valid_targets = [torch.as_tensor(t[v]).to(device)
                              for t, (_, v) in zip(targets, folds)]
        self.trainer = StackedTrainer(
            torch.as_tensor(X, dtype=torch.float32).to(device),
            torch.as_tensor(np.stack(targets)).to(device),
            folds, [m.fold for m in members], settings, hidden_layer_sizes=hidden,
            n_outputs=templates[0].n_outputs_, activation=first.activation,
            criterion=templates[0]._criterion(),
            batch_size=min(first._batch_size(len(t)) for t, _ in folds), shuffle=first.shuffle,
            betas=(first.beta_1, first.beta_2), epsilon=first.epsilon, seed=seed,
        )
        self.tol, self.patience = first.tol, first.n_iter_no_change

    def train_until(self, rung):
        with torch_threads(self.n_threads):
            while True:
                active = [p for p, i in enumerate(self.trainer.members.tolist())
                          if not self.members[i].stopped
                          and self.members[i].epochs < min(rung, self.members[i].cap)]
                if not active:
                    return
                if len(active) < len(self.trainer.members):
                    self.trainer.select(active)
                start = time.perf_counter()
                self.trainer.run_epoch()
                outputs = self.trainer.held_out_outputs()
                middle = time.perf_counter()
                positions = self.trainer.members.tolist()
                scores = [self._score(self.members[i], out) for i, out in zip(positions, outputs)]
                share = (middle - start) / len(positions)
                score_share = (time.perf_counter() - middle) / len(positions)
                for i, score in zip(positions, scores):
                    update_member(
                        self.members[i], 1, score, self.tol, self.patience, share, score_share
                    )

    def _score(self, member, outputs):
        if not torch.isfinite(outputs).all():
            return -np.inf
        if self.scorer is None:
            return float(self.score_fn(self.valid_targets[member.fold], outputs))
        _, valid = self.folds[member.fold]
        frozen = frozen_outputs(self.templates[member.fold], outputs.double().cpu().numpy())
        return float(self.scorer(frozen, self.X[valid], self.y[valid]))


class OrdinaryEngine:
    """The members of one candidate, each an ordinary estimator continued chunk by chunk."""

    def __init__(self, search, X, y, folds, params, members, scorer, seed):
        self.members, self.search = members, search
        est = search._base_estimator(**params).set_params(random_state=seed, verbose=0)
        self.scorer = scorer or estimator_score
        self.states = [OrdinaryMember(clone(est), X, y, *folds[m.fold]) for m in members]
        self.tol, self.patience = est.tol, est.n_iter_no_change

    def train_until(self, rung):
        search = self.search
        while True:
            todo = [(m, s) for m, s in zip(self.members, self.states)
                    if not m.stopped and m.epochs < min(rung, m.cap)]
            if not todo:
                return
            chunks = [min(search.eval_every, min(rung, m.cap) - m.epochs) for m, _ in todo]
            # Results in order as they come, so that an interrupt keeps those before it.
            results = Parallel(n_jobs=search.n_jobs, return_as="generator")(
                delayed(_train_ordinary)(s, chunk, self.scorer)
                for (_, s), chunk in zip(todo, chunks)
            )
            for (m, _), chunk, result in zip(todo, chunks, results):
                state, epochs, score, fit_time, score_time = result
                self.states[self.members.index(m)] = state
                update_member(m, epochs, score, self.tol, self.patience, fit_time, score_time)
                if epochs < chunk:
                    m.stopped = True  # the estimator's own stopping rule ended its training


def update_member(member, epochs, score, tol, patience, fit_time, score_time):
    """Record ``epochs`` more epochs of ``member`` ending at held-out ``score``.

    sklearn's rule (``_update_no_improvement_count``): the best score and its epoch move on
    any improvement; the member stops once its score has not beaten the best by ``tol`` for
    more than ``patience`` epochs.
    """
    member.epochs += epochs
    member.fit_time += fit_time
    member.score_time += score_time
    if not np.isfinite(score):
        member.stopped = True
        return
    if score < member.best_score + tol:
        member.no_improvement_epochs += epochs
    else:
        member.no_improvement_epochs = 0
    if score > member.best_score:
        member.best_score, member.best_epoch = score, member.epochs
    if member.no_improvement_epochs > patience:
        member.stopped = True


