"""The protocol file of a run, generated from its configuration and the models' settings.

Every value the text states is read from the objects that set it (the mode's ``Config``,
the table of regularizers, the estimators' parameters, the remedies' table), so the text
cannot drift from what ran.
"""

import os
import platform
import sys

from _harness import git_commit, version

from skreg import RegularizedMLPClassifier
from skreg._search import DEFAULT_SPACE, SEARCH_PARAMETERS

from .models import (
    BEST_SINGLE,
    CV_DEFAULT,
    HGB,
    JOINT,
    REALMLP,
    SCALER_NAMES,
    SKLEARN_MLP,
    UNREGULARIZED,
    unregularized_params,
)
from .regularizers import REGULARIZERS
from .remedies import remedy_descriptions
from .summary import MIN_EFFECT


def _data_lines(config, datasets):
    lines = ["## Data\n"]
    for d in datasets:
        subsampled = d.X.shape[0] < d.n_rows_total
        lines.append(
            f"- {d.name}: {d.source}; {d.task}; {d.X.shape[0]} rows used of {d.n_rows_total}"
            + (f" (subsampled without replacement, stratified for classification, seed "
               f"{config.seed})" if subsampled else "")
            + f"; {d.X.shape[1]} columns, categorical (one-hot): {d.categorical or 'none'}")
    return lines


def _network_line(config):
    net = RegularizedMLPClassifier().get_params()
    return (f"- skreg networks: hidden_layer_sizes={config.hidden_layer_sizes}, "
            f"max_iter={config.max_iter}, solver {net['solver']!r}, learning_rate_init "
            f"{net['learning_rate_init']}, batch_size {net['batch_size']!r} (min(200, n)), "
            f"seed {config.seed}; training stops when the training loss has not improved by "
            f"tol={net['tol']} for n_iter_no_change={net['n_iter_no_change']} epochs. Every "
            f"skreg row starts from {unregularized_params()} (no regularizer) and adds its own.")


def _model_lines(config, names):
    grid_note = f"the first {config.grid_values} value(s) of each regularizer's grid below"
    cv_settings = {**{k: SEARCH_PARAMETERS[k] for k in ("cv", "halving", "stacked")},
                   **{k: v for k, v in config.cv_estimator.items() if k != "param_grid"}}
    lines = [
        f"- {UNREGULARIZED}: one skreg fit with every regularizer off.",
        f"- {CV_DEFAULT}: skreg's RegularizedMLP*CV with its default search space "
        f"{config.cv_estimator.get('param_grid', DEFAULT_SPACE)} and settings {cv_settings} "
        "(successive halving over epochs, early stopping per candidate and fold, candidates "
        "trained as one stacked network where they differ only in per-member settings), "
        "refit on all training rows.",
        f"- {BEST_SINGLE}: the same CV estimator over {config.inner_folds} inner folds, its "
        f"candidates each regularizer alone ({grid_note}): the regularizer is chosen inside "
        "the training rows, like every other choice.",
        f"- {JOINT}: the same CV estimator over a list of candidates: no regularizer, each "
        f"regularizer alone (as above), and {config.joint_iter} random draws (ParameterSampler, "
        f"seed {config.seed}) from the joint space below (off included).",
    ]
    if config.per_regularizer_rows:
        lines.append(f"- One row per regularizer ({', '.join(names)}): GridSearchCV over "
                     f"{grid_note} (a single candidate is fitted directly), scored on the "
                     "outer test rows.")
    lines += [
        f"- {SKLEARN_MLP}: scikit-learn's MLPClassifier/MLPRegressor, same width and max_iter, "
        f"GridSearchCV over alpha in {config.mlp_alpha} x early_stopping in [False, True].",
        f"- {REALMLP}: pytabkit {version('pytabkit')}'s RealMLP_TD_Classifier/Regressor with "
        f"its tuned defaults{' and ' + str(config.realmlp) if config.realmlp else ''}, on the "
        "raw table (its own preprocessing; a validation share of the training rows chooses "
        "its best epoch), device cpu, one thread.",
        f"- {HGB}: defaults, native categorical support on ordinal codes, GridSearchCV over "
        f"{config.hgb_grid}.",
    ]
    return lines


def _remedy_lines(config):
    if not config.remedies:
        return []
    lines = [f"- Remedies (on {config.remedy_datasets}): after the joint search has chosen its "
             "pipeline inside the training rows, one training choice is changed and the "
             "variant is fitted once on the same rows; their fit time excludes the shared "
             "search:"]
    lines += [f"  - {name}: {what}" for name, what in remedy_descriptions(config).items()]
    return lines


def _sweep_lines(config):
    if not config.sweep_datasets:
        return ["\n## Sweeps\n", f"- None in {config.mode} mode."]
    return [
        "\n## Sweeps\n",
        f"- Data: {config.sweep_datasets}; {config.sweep_repeats} repeats (seeds {config.seed}.."
        f"{config.seed + config.sweep_repeats - 1}); each repeat holds out "
        f"{config.sweep_test_rows} test rows and draws training rows from the rest (nested: a "
        "smaller training set is a prefix of a larger one).",
        f"- Input scaling: {[SCALER_NAMES[s] for s in config.sweep_scalers]} (the name of a "
        "data set scaled otherwise than by the first says so).",
        f"- Size sweep: {config.sweep_sizes} training rows at the default width. Width sweep: "
        f"{len(config.hidden_layer_sizes)} hidden layers of w units for w in "
        f"{config.sweep_widths} at {config.sweep_width_rows} training rows.",
        "- Each regularizer at its fixed value (not tuned). Verdict per point: paired difference "
        "of test accuracy (classification) or R^2 (regression) to the unregularized network on "
        "the same rows and seed; 'helps'/'hurts' when the mean difference exceeds both 2 "
        f"standard errors over repeats and {MIN_EFFECT}, else 'no clear effect'. With few "
        "repeats this test is coarse.",
    ]


def protocol_text(config, datasets, notes, timings, names):
    """The markdown protocol of a run of ``config`` on ``datasets``."""
    lines = [
        f"# Regularization study: protocol ({config.mode} mode)\n",
        f"Command: `python benchmarks/regularization.py {' '.join(sys.argv[1:])}`\n",
        f"Git commit: {git_commit()}\n",
        *_data_lines(config, datasets),
        "\n## Splits and tuning\n",
        f"- Outer: {config.outer_splits} random train/test splits (test share {config.test_size}, "
        f"stratified for classification, seed {config.seed}); every model sees the same splits.",
        f"- Tuning only inside each outer training part ({config.inner_folds}-fold stratified "
        f"CV, seed {config.seed}, for the GridSearchCV rows; the CV estimators' own folds as "
        "stated). GridSearchCV scores by negative log loss (classification) or negative RMSE "
        "(regression); the CV estimators by their own score (accuracy, R^2). Test metrics: "
        "accuracy and ROC AUC (one-vs-rest, macro, for several classes), or RMSE and R^2 in "
        "the target's units.",
        f"- Preprocessing inside each pipeline, fitted on training rows only: "
        f"{SCALER_NAMES[config.scaler]} on numeric columns for the neural networks, "
        "OneHotEncoder (handle_unknown='ignore') on categorical columns; HistGradientBoosting "
        "gets ordinal codes.",
        _network_line(config),
        *_model_lines(config, names),
        *_remedy_lines(config),
        "- Fit time: the whole nested fit (search and refit) per outer split, wall clock, one "
        f"thread per process, {config.n_jobs} processes in parallel; 'final fit' is the refit "
        "of the chosen configuration.",
        "\n## Regularizers (grid alone / joint space / fixed value in sweeps)\n",
    ]
    lines += [f"- {n}: {r.grid} / {r.joint} / {r.fixed}" for n, r in REGULARIZERS.items()]
    lines += [f"- {note}" for note in notes]
    lines += _sweep_lines(config)
    lines += [
        "\n## Machine\n",
        f"- {platform.platform()}, {os.cpu_count()} logical CPUs, Python "
        f"{platform.python_version()}, torch {version('torch')}, skorch {version('skorch')}, "
        f"scikit-learn {version('scikit-learn')}.",
    ]
    for name, (seconds, load_before, load_after, cpu) in timings.items():
        lines.append(f"- {name}: {seconds:.0f} s wall clock, {cpu:.0f} CPU seconds in the fits "
                     f"({cpu / config.n_jobs:.0f} s if spread over {config.n_jobs} idle cores); "
                     f"load average (1, 5, 15 min) before {load_before}, after {load_after}.")
    return "\n".join(lines) + "\n"
