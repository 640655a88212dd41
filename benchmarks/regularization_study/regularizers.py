"""The table of regularizers the study tunes: grids, joint space and the sweeps' fixed values."""

import dataclasses

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor


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
    estimator = RegularizedMLPClassifier if task == "classification" else RegularizedMLPRegressor
    known = set(estimator().get_params())
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
