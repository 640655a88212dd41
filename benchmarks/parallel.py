"""How much faster does a regularization search run with 2 workers than with 1?

The same 8-candidate ``GridSearchCV`` (dropout x L2 x batch norm, 3-fold, refit) runs

- ``n_jobs=1``: sequentially in this process, torch with its default threads;
- ``n_jobs=1, n_threads=1``: sequentially, one torch thread (the cost of a fit alone);
- ``n_jobs=2``: joblib's default ``loky`` backend, 2 worker processes;
- ``dask, 2 workers``: ``parallel_config(backend="dask")`` on a ``LocalCluster`` of 2
  worker processes with 1 thread each;
- ``n_jobs=2 (threading)``: joblib's ``threading`` backend, 2 fits in the threads of this
  process (skreg gives each half of torch's threads).

Data: scikit-learn's bundled digits (1,797 x 64, 10 classes), standardized inside the
pipeline. Every fit trains a (256, 256) MLP for exactly ``--epochs`` epochs (no early
stop), so the fits cost about the same and the timings compare the engines, not the
candidates. Seeds: ``random_state=0`` for every net, unshuffled 3-fold split.

Worker start-up (loky's processes, the dask cluster and their imports of torch) is paid
once per session; it is measured separately by a warm-up search of a single tiny fit per
worker and excluded from the timed searches. Configurations run round-robin, ``--repeats``
times, so that a change in the machine's load hits all of them; the load average is
recorded before and after each run.

Outputs: ``benchmarks/results/parallel.csv`` (one row per run) and
``benchmarks/results/parallel.md`` (machine, versions, load, medians, ratios and the
per-task overhead of the fits-per-worker model used in docs/scaling.rst).

Run: ``python benchmarks/parallel.py`` (about 8 minutes on 2 idle cores);
``python benchmarks/parallel.py --epochs 2 --repeats 1`` checks that the script works.
"""

import argparse
import importlib.metadata
import json
import logging
import math
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib import parallel_config
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skreg import RegularizedMLPClassifier

RESULTS = Path(__file__).resolve().parent / "results"
GRID = {
    "regularizedmlpclassifier__dropout": [0.0, 0.3],
    "regularizedmlpclassifier__l2": [0.0, 1e-3],
    "regularizedmlpclassifier__batch_norm": [False, True],
}
N_SPLITS = 3


def search(epochs, n_jobs, n_threads=None):
    net = RegularizedMLPClassifier(
        (256, 256), max_iter=epochs, n_iter_no_change=epochs, tol=0.0, random_state=0,
        n_threads=n_threads,
    )
    return GridSearchCV(
        make_pipeline(StandardScaler(), net), GRID, cv=KFold(N_SPLITS), n_jobs=n_jobs
    )


def timed_search(X, y, epochs, n_jobs, n_threads=None):
    """Run the search once and return its wall time and sklearn's own timings."""
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    fitted = search(epochs, n_jobs, n_threads).fit(X, y)
    wall = time.perf_counter() - start
    results = fitted.cv_results_
    return {
        "wall_s": wall,
        "refit_s": fitted.refit_time_,
        # Work done in the workers: every fit and scoring, summed over folds and candidates.
        "task_s_sum": float(((results["mean_fit_time"] + results["mean_score_time"]) * N_SPLITS).sum()),
        "n_tasks": len(results["params"]) * N_SPLITS,
        "best_score": fitted.best_score_,
        "load1_before": load_before,
        "load1_after": os.getloadavg()[0],
    }


def warm_up(X, y, n_jobs):
    """Start the workers and import torch in them; return the seconds it took."""
    start = time.perf_counter()
    search(1, n_jobs).set_params(param_grid={"regularizedmlpclassifier__l2": [0.0]}).fit(X, y)
    return time.perf_counter() - start


def machine_lines():
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}"
        for name in ("torch", "skorch", "scikit-learn", "joblib", "dask", "distributed")
    )
    return [
        f"- CPU: {cpu}; {os.cpu_count()} logical cores; torch's default threads here: "
        f"{torch.get_num_threads()}",
        f"- Python {platform.python_version()} on {platform.platform()}",
        f"- {versions}",
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", default="parallel", help="stem of the result files")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the markdown report from the saved CSV and JSON")
    args = parser.parse_args()
    if args.report_only:
        meta = json.loads((RESULTS / f"{args.output}_meta.json").read_text())
        write_report(pd.read_csv(RESULTS / f"{args.output}.csv"), meta, args.output)
        return
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    from distributed import Client, LocalCluster

    X, y = load_digits(return_X_y=True)
    RESULTS.mkdir(exist_ok=True)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_start = os.getloadavg()

    start = time.perf_counter()
    # dask's nanny writes OMP_NUM_THREADS=1 (and more) into this process's environment before
    # it spawns its workers; restore it so that loky's workers get their usual share.
    environ = dict(os.environ)
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=":0", silence_logs=logging.ERROR,
    )
    client = Client(cluster)
    cluster_start = time.perf_counter() - start
    os.environ.clear()
    os.environ.update(environ)
    with parallel_config(backend="dask"):
        dask_warm_up = warm_up(X, y, n_jobs=-1)
    loky_warm_up = warm_up(X, y, n_jobs=2)

    configs = {
        "n_jobs=1": lambda: timed_search(X, y, args.epochs, n_jobs=1),
        "n_jobs=1, n_threads=1": lambda: timed_search(X, y, args.epochs, n_jobs=1, n_threads=1),
        "n_jobs=2 (loky)": lambda: timed_search(X, y, args.epochs, n_jobs=2),
        "dask, 2 workers": lambda: timed_search(X, y, args.epochs, n_jobs=-1),
        "n_jobs=2 (threading)": lambda: timed_search(X, y, args.epochs, n_jobs=2),
    }
    rows = []
    for repeat in range(args.repeats):
        for name, run in configs.items():
            backend = "dask" if name.startswith("dask") else (
                "threading" if "threading" in name else "loky")
            with parallel_config(backend=backend):
                row = run()
            rows.append({"config": name, "repeat": repeat, **row})
            print(f"{name:24s} repeat {repeat}: {row['wall_s']:6.1f} s "
                  f"(load {row['load1_before']:.1f} -> {row['load1_after']:.1f})", flush=True)
    client.close()
    cluster.close()

    runs = pd.DataFrame(rows)
    runs.to_csv(RESULTS / f"{args.output}.csv", index=False)
    meta = dict(epochs=args.epochs, repeats=args.repeats, started=started,
                load_start=list(load_start), cluster_start=cluster_start,
                dask_warm_up=dask_warm_up, loky_warm_up=loky_warm_up)
    (RESULTS / f"{args.output}_meta.json").write_text(json.dumps(meta, indent=1))
    write_report(runs, meta, args.output)


def write_report(runs, meta, output):
    summary = runs.groupby("config", sort=False).agg(
        wall_s=("wall_s", "median"), wall_min=("wall_s", "min"), wall_max=("wall_s", "max"),
        refit_s=("refit_s", "median"), task_s_sum=("task_s_sum", "median"),
        n_tasks=("n_tasks", "first"), load1=("load1_before", "median"),
    )
    baseline = summary.loc["n_jobs=1", "wall_s"]
    summary["speed-up vs n_jobs=1"] = baseline / summary["wall_s"]
    workers = {"n_jobs=1": 1, "n_jobs=1, n_threads=1": 1, "n_jobs=2 (loky)": 2,
               "dask, 2 workers": 2, "n_jobs=2 (threading)": 2}
    # Fits-per-worker model: wall = refit + ceil(n_tasks / k) * (mean task time + overhead).
    # The overhead per task is what the measured wall time leaves unexplained.
    overhead = {}
    for name, row in summary.iterrows():
        k = workers[name]
        mean_task = row["task_s_sum"] / row["n_tasks"]
        rounds = math.ceil(row["n_tasks"] / k)
        overhead[name] = (row["wall_s"] - row["refit_s"]) / rounds - mean_task
    summary["mean task (s)"] = summary["task_s_sum"] / summary["n_tasks"]
    summary["overhead per task (s)"] = pd.Series(overhead)
    model = model_table(summary)
    table = summary.rename(columns={
        "wall_s": "wall (s), median", "wall_min": "min", "wall_max": "max",
        "refit_s": "refit (s)", "load1": "load (1 min), median",
    }).drop(columns=["task_s_sum", "n_tasks"])

    lines = [
        "# Parallel search: 1 vs 2 workers",
        "",
        *([meta["note"], ""] if meta.get("note") else []),
        f"Measured {meta['started']} with `python benchmarks/parallel.py --epochs "
        f"{meta['epochs']} --repeats {meta['repeats']}`.",
        "",
        *machine_lines(),
        "- Load average (1, 5, 15 min) at the start: "
        + ", ".join(f"{v:.2f}" for v in meta["load_start"]),
        "",
        f"Search: GridSearchCV, 8 candidates (dropout x l2 x batch_norm), 3-fold, refit; "
        f"{int(summary['n_tasks'].iloc[0])} fits of a (256, 256) MLP for {meta['epochs']} epochs "
        "on digits (1,797 x 64) plus the refit.",
        "",
        f"Start-up, excluded from the timed runs: dask LocalCluster {meta['cluster_start']:.1f} s, "
        f"its first search (torch imported in the workers) {meta['dask_warm_up']:.1f} s; "
        f"loky's first search {meta['loky_warm_up']:.1f} s.",
        "",
        table.to_markdown(floatfmt=".2f"),
        "",
        "`mean task` is the fit plus scoring time of one fold, measured inside the worker; "
        "`overhead per task` is (wall - refit) / ceil(tasks / workers) - mean task: "
        "what dispatch, data transfer and idle workers add per task.",
        "",
        "## Extrapolation to k workers (a model, not a measurement)",
        "",
        "wall(k) = refit + ceil(tasks / k) x (task + overhead), with the refit and the mean "
        "task time of the sequential single-thread runs (each fit alone on a core) and the "
        "per-task overhead of the 2-worker dask runs above. Speed-up is against one "
        "single-threaded worker, wall(1) = refit + tasks x task. It "
        "assumes k workers that each get a core of their own, equal task times and no "
        "start-up (a long-lived cluster); a 1,280-task search is the issue's 4 strengths for "
        "each of 4 regularizers with 5-fold CV, with tasks of the same size.",
        "",
        model.to_markdown(index=False, floatfmt=".2f"),
        "",
        "Runs, in the order they ran:",
        "",
        runs[["config", "repeat", "wall_s", "load1_before", "load1_after"]].to_markdown(
            index=False, floatfmt=".2f"
        ),
        "",
    ]
    (RESULTS / f"{output}.md").write_text("\n".join(lines))
    print("\n".join(lines))


def model_table(summary, workers=(1, 2, 4, 8, 16, 32), task_counts=(None, 1280)):
    """Predicted wall times and speed-ups of the fits-per-worker model.

    Task and refit times come from the sequential single-thread runs (one fit alone on
    a core), the per-task overhead from the 2-worker dask runs.
    """
    alone = summary.loc["n_jobs=1, n_threads=1"]
    task, refit = alone["mean task (s)"], alone["refit_s"]
    overhead = summary.loc["dask, 2 workers", "overhead per task (s)"]
    rows = []
    for n_tasks in task_counts:
        n_tasks = int(alone["n_tasks"]) if n_tasks is None else n_tasks
        serial = refit + n_tasks * task
        for k in workers:
            wall = refit + math.ceil(n_tasks / k) * (task + (overhead if k > 1 else 0.0))
            rows.append({"tasks": str(n_tasks), "workers k": str(k), "predicted wall (s)": wall,
                         "speed-up": serial / wall})
    return pd.DataFrame(rows)


if __name__ == "__main__":
    main()
