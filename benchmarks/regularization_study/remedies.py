"""Remedies: the joint search's chosen pipeline with one training choice changed.

Each remedy is fitted once on the outer training rows after the joint search has chosen
its pipeline there; the table of changes below is also what the protocol file describes.
"""

import collections

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.pipeline import Pipeline
from skorch.callbacks import Callback, LRScheduler
from torch.optim.lr_scheduler import CosineAnnealingLR

from .models import SCALER_NAMES, SCALERS, prefixed, preprocessor, search

REMEDY_BATCH_SIZE = 64
REMEDY_EPOCH_FACTOR = 3
REMEDY_LEARNING_RATES = [3e-4, 1e-3, 3e-3]
REMEDY_AVERAGED_EPOCHS = 5
REMEDY_SEEDS = 5


class SeedAverage(BaseEstimator):
    """Average the predictions of ``n_members`` copies of ``estimator`` fitted with different seeds.

    The copies differ only in ``random_state`` (initialization, dropout, batch order);
    classification averages probabilities, regression averages predictions.
    """

    def __init__(self, estimator, n_members=5):
        self.estimator = estimator
        self.n_members = n_members

    def fit(self, X, y):
        self.members_ = [clone(self.estimator).set_params(random_state=seed).fit(X, y)
                         for seed in range(self.n_members)]
        if hasattr(self.members_[0], "classes_"):
            self.classes_ = self.members_[0].classes_
        return self

    def predict_proba(self, X):
        return np.mean([m.predict_proba(X) for m in self.members_], axis=0)

    def predict(self, X):
        if hasattr(self, "classes_"):
            return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
        return np.mean([m.predict(X) for m in self.members_], axis=0)


class SeedAverageClassifier(ClassifierMixin, SeedAverage):
    pass


class SeedAverageRegressor(RegressorMixin, SeedAverage):
    pass



class LastEpochsWeightAverage(Callback):
    """At the end of training, replace the weights by their average over the last epochs.

    A simple form of weight averaging (in the spirit of stochastic weight averaging): the
    state of the module after each of the last ``n_epochs`` epochs is kept, and the mean of
    those states (batch-norm running statistics included) becomes the final model.
    """

    def __init__(self, n_epochs=5):
        self.n_epochs = n_epochs

    def on_train_begin(self, net, **kwargs):
        self.states_ = collections.deque(maxlen=self.n_epochs)

    def on_epoch_end(self, net, **kwargs):
        self.states_.append({k: v.detach().clone() for k, v in net.module_.state_dict().items()})

    def on_train_end(self, net, **kwargs):
        if not self.states_:
            return
        average = {}
        for key, value in self.states_[-1].items():
            stacked = [state[key] for state in self.states_]
            average[key] = (torch.stack(stacked).float().mean(0).to(value.dtype)
                            if value.is_floating_point() else value)
        net.module_.load_state_dict(average)


def _doubled_width(config):
    return tuple(2 * w for w in config.hidden_layer_sizes)


def _other_scaler(config):
    """The scaler the rescaling remedy uses: the first one that is not the study's."""
    return next(name for name in SCALERS if name != config.scaler)


def remedy_descriptions(config):
    """``{name: what it changes}``, in the order the remedies run."""
    width, scaler = _doubled_width(config), _other_scaler(config)
    return {
        f"joint + {scaler} scaling": f"{SCALER_NAMES[scaler]} on the numeric columns instead "
        f"of {SCALER_NAMES[config.scaler]}",
        "joint + cosine lr": f"cosine learning-rate decay over max_iter={config.max_iter}",
        f"joint + batch {REMEDY_BATCH_SIZE}": f"batch_size={REMEDY_BATCH_SIZE}",
        f"joint + {REMEDY_EPOCH_FACTOR}x epochs":
            f"max_iter={REMEDY_EPOCH_FACTOR * config.max_iter}",
        "joint + double width": f"hidden_layer_sizes={width}",
        "joint + lr searched": f"learning_rate_init chosen from {REMEDY_LEARNING_RATES} by the "
        "same inner CV",
        "joint + weight averaging": f"weights averaged over the last {REMEDY_AVERAGED_EPOCHS} "
        "epochs (early stopping off: it would restore its best epoch over the average)",
        f"joint + average of {REMEDY_SEEDS} seeds": f"predictions averaged over {REMEDY_SEEDS} "
        "seeds",
    }


def remedies(data, config):
    """``{name: change}``: each change turns the tuned pipeline into a variant to fit.

    A change takes the pipeline the joint search chose (inside the training rows) and returns
    the estimator to fit instead: the same regularization with one training choice changed.
    """
    width = _doubled_width(config)
    average_class = SeedAverageClassifier if data.task == "classification" else SeedAverageRegressor
    scaler = _other_scaler(config)

    def with_net(**params):
        return lambda pipe: clone(pipe).set_params(**prefixed(params))

    def rescaled(pipe):
        return Pipeline([("prep", preprocessor(data, scaler=scaler)),
                         ("net", clone(pipe.named_steps["net"]))])

    def lr_searched(pipe):
        return search(clone(pipe), {"net__learning_rate_init": REMEDY_LEARNING_RATES}, data,
                      config, config.seed)

    def seed_average(pipe):
        return Pipeline([("prep", clone(pipe.named_steps["prep"])),
                         ("net", average_class(clone(pipe.named_steps["net"]), REMEDY_SEEDS))])

    changes = [
        rescaled,
        with_net(callbacks=[("cosine", LRScheduler(policy=CosineAnnealingLR,
                                                   T_max=config.max_iter))]),
        with_net(batch_size=REMEDY_BATCH_SIZE),
        with_net(max_iter=REMEDY_EPOCH_FACTOR * config.max_iter),
        with_net(hidden_layer_sizes=width),
        lr_searched,
        with_net(early_stopping=False,
                 callbacks=[("average", LastEpochsWeightAverage(REMEDY_AVERAGED_EPOCHS))]),
        seed_average,
    ]
    return dict(zip(remedy_descriptions(config), changes))
