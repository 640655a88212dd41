"""Summaries of the study's results: means over outer splits, the headline, sweep verdicts."""

import collections

import numpy as np
import pandas as pd

from .models import BEST_SINGLE, CV_DEFAULT, HGB, JOINT, REALMLP, SKLEARN_MLP, UNREGULARIZED
from .regularizers import REGULARIZERS

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


def paired_difference(main, dataset, metric, model, other):
    """Mean and standard error over outer splits of ``model``'s score minus ``other``'s."""
    part = main[main.dataset == dataset]
    mine = part[part.model == model].set_index("split")[metric]
    theirs = part[part.model == other].set_index("split")[metric]
    diff = (mine - theirs).dropna()
    if len(diff) < 2:
        return float(diff.mean()) if len(diff) else float("nan"), float("nan")
    return float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(len(diff)))


def most_chosen_regularizer(main, dataset):
    """The regularizer the single-regularizer search chose most often, with its count."""
    part = main[(main.dataset == dataset) & (main.model == BEST_SINGLE)]
    names = [_regularizer_of(chosen) for chosen in part.chosen]
    if not names:
        return ""
    (name, count), = collections.Counter(names).most_common(1)
    return f"{name} ({count} of {len(names)} splits)"


def _regularizer_of(chosen):
    """The name of the regularizer in a chosen-parameters string, e.g. "{'dropout': 0.25}"."""
    for name, reg in REGULARIZERS.items():
        if any(f"'{key}'" in chosen for key in reg.grid if key != "n_iter_no_change"):
            return name
    return chosen


def headline(summary, datasets, main):
    """Per data set, on the headline metric: every row's score with its fit time, and the
    criteria: does the default CV estimator beat sklearn's tuned MLP and RealMLP-TD (paired
    difference over outer splits), and which share of the gap from sklearn's MLP to
    HistGradientBoosting does it close where boosting is ahead?"""
    rows = []
    for data in datasets:
        m = data.primary_metric
        part = summary[summary.dataset == data.name].set_index("model")
        sign = 1 if HIGHER_IS_BETTER[m] else -1

        def cell(model, part=part, m=m):
            if model not in part.index:
                return "not run"
            return f"{part.loc[model, f'{m}_mean']:.4f} ({part.loc[model, 'fit_time_s']:.0f} s)"

        def score(model, part=part, m=m):
            return part.loc[model, f"{m}_mean"] if model in part.index else float("nan")

        row = {"dataset": data.name, "metric": m}
        for model in (UNREGULARIZED, CV_DEFAULT, BEST_SINGLE, JOINT, SKLEARN_MLP, REALMLP, HGB):
            row[model] = cell(model)
        row["single regularizer chosen most"] = most_chosen_regularizer(main, data.name)
        for peer, label in ((SKLEARN_MLP, "sklearn MLP"), (REALMLP, "RealMLP-TD")):
            mean, se = paired_difference(main, data.name, m, CV_DEFAULT, peer)
            row[f"CV default - {label}"] = f"{mean:+.4f} ± {se:.4f}"
            row[f"beats {label}"] = ("not run" if np.isnan(mean) else
                                     "yes" if sign * mean > 0 else
                                     "tie" if mean == 0 else "no")
        gap = sign * (score(HGB) - score(SKLEARN_MLP))
        closed = sign * (score(CV_DEFAULT) - score(SKLEARN_MLP)) / gap if gap > 0 else np.nan
        row["share of the gap from sklearn MLP to HGB closed"] = (
            "HGB not ahead" if not gap > 0 else f"{closed:.0%}")
        row["published (other splits)"] = PUBLISHED.get((data.name, m), "")
        rows.append(row)
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
        base = part[part.model == UNREGULARIZED].set_index("repeat")[metric]
        for model in part.model.unique():
            if model == UNREGULARIZED:
                continue
            diff = part[part.model == model].set_index("repeat")[metric] - base
            mean, se = diff.mean(), diff.std(ddof=1) / np.sqrt(len(diff))
            verdict = ("helps" if mean > max(2 * se, MIN_EFFECT) else
                       "hurts" if mean < -max(2 * se, MIN_EFFECT) else "no clear effect")
            rows.append({"dataset": dataset, "sweep": sweep, "value": value, "model": model,
                         "metric": metric, "difference": mean, "std_error": se,
                         "verdict": verdict})
    return pd.DataFrame(rows)
