"""Fitting the study's models on outer splits and scoring them on the held-out rows."""

import dataclasses
import time
import warnings

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score, roc_auc_score, root_mean_squared_error
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from sklearn.pipeline import Pipeline

from .models import JOINT, UNREGULARIZED, model_specs, skreg_pipeline
from .regularizers import REGULARIZERS, available_regularizers
from .remedies import remedies


def outer_splits(data, config):
    if data.task == "classification":
        splitter = StratifiedShuffleSplit(config.outer_splits, test_size=config.test_size,
                                          random_state=config.seed)
    else:
        splitter = ShuffleSplit(config.outer_splits, test_size=config.test_size,
                                random_state=config.seed)
    return list(splitter.split(data.X, data.y))


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


def _search_of(model):
    """The fitted search inside ``model``: itself, or a pipeline's last step; else None."""
    last = model.steps[-1][1] if isinstance(model, Pipeline) else model
    return last if hasattr(last, "best_params_") else None


def chosen_params(model):
    """The parameters a fitted search chose, without pipeline prefixes ({} for no search)."""
    found = _search_of(model)
    if found is None:
        return {}
    return {k.split("__", 1)[-1]: v for k, v in found.best_params_.items()}


def final_fit_time(model, fit_time):
    """Seconds of the final fit: a search's refit, else the whole fit."""
    found = _search_of(model)
    return getattr(found, "refit_time_", fit_time) if found is not None else fit_time


def _quiet_single_thread():
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    # pytorch-lightning (under RealMLP-TD) warns of its own use of a torch API, once per fit.
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")


def _fit_and_score(data, name, family, model, split, train, test):
    X_train = data.X.iloc[train]
    start, cpu_start = time.perf_counter(), time.process_time()
    model = clone(model).fit(X_train, data.y[train])
    fit_time = time.perf_counter() - start
    row = {"dataset": data.name, "model": name, "family": family, "split": split,
           "n_train": len(train), "n_test": len(test), "fit_time_s": fit_time,
           "fit_cpu_s": time.process_time() - cpu_start,
           "final_fit_time_s": final_fit_time(model, fit_time),
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
    joint = model_specs(data, config)[JOINT][1]
    joint_row, fitted = _fit_and_score(data, JOINT, "skreg", joint, split, train, test)
    chosen = Pipeline([("prep", clone(fitted.named_steps["prep"])),
                       ("net", clone(_search_of(fitted).best_estimator_))])
    rows = [joint_row]
    for name, change in remedies(data, config).items():
        row, _ = _fit_and_score(data, name, "remedy", change(chosen), split, train, test)
        row["chosen"] = str(chosen_params(fitted)) + (f" then {row['chosen']}"
                                                      if row["chosen"] != "{}" else "")
        rows.append(row)
    return rows


def run_main_study(datasets, config, n_jobs=None, families=None, models=None):
    """Nested evaluation of every model on every data set: one row per (data set, model, split).

    ``families`` (e.g. ``{"remedy"}``) restricts the run to those model families, ``models``
    to the rows so named; remedies run when ``config.remedies`` names the data set (or
    ``families`` holds "remedy").
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
                if models is not None and name not in models:
                    continue
                if with_remedies and name == JOINT:
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
        models = {UNREGULARIZED: {}} | {n: REGULARIZERS[n].fixed for n in names}
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


def replace_rows(earlier, new_rows):
    """``earlier``'s rows with those of ``new_rows``' models replaced, in ``earlier``'s order."""
    kept = earlier[~earlier.model.isin(set(new_rows.model))]
    rows = pd.concat([kept, new_rows], ignore_index=True)
    datasets = {d: i for i, d in enumerate(dict.fromkeys(earlier.dataset))}
    models = {m: i for i, m in enumerate(dict.fromkeys(earlier.model))}
    order = sorted(range(len(rows)), key=lambda i: (
        datasets.get(rows.dataset[i], len(datasets)), rows.split[i],
        models.get(rows.model[i], len(models))))
    return rows.iloc[order].reset_index(drop=True)
