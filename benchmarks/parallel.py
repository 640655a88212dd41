"""How much faster does a regularization search run with 2 workers than with 1?

The same 8-candidate ``GridSearchCV`` (dropout x L2 x batch norm, 3-fold, refit) runs

- ``n_jobs=1``: sequentially in this process, torch with its default threads;
- ``n_jobs=1, n_threads=1``: sequentially, one torch thread (the cost of a fit alone);
- ``n_jobs=2``: joblib's default ``loky`` backend, 2 worker processes;
- ``dask, 2 workers``: ``parallel_config(backend="dask")`` on a ``LocalCluster`` of 2
  worker processes with 1 thread each, in dask's default worker environment;
- ``dask, 2 workers, malloc defaults``: the same on a second cluster whose workers start
  without dask's ``MALLOC_TRIM_THRESHOLD_=65536`` (see docs/scaling.rst: that setting
  turns off glibc's adaptive mmap threshold, and every activation tensor of a batch is
  then mapped and unmapped afresh);
- ``n_jobs=2 (threading)``: joblib's ``threading`` backend, 2 fits in the threads of this
  process (skreg gives each half of torch's threads).

Two workloads, each a search a user would run:

- ``default``: the estimator's default network, one hidden layer of 100 units, for 100
  epochs;
- ``wide``: two hidden layers of 256 units for 40 epochs, large enough that torch's two
  intra-op threads make one fit 1.2 times faster, so ``n_jobs=1`` already uses both
  cores part of the time.

Data: scikit-learn's bundled digits (1,797 x 64, 10 classes), standardized inside the
pipeline. Every fit trains for exactly its workload's epochs (no early stop), so the
fits cost about the same and the timings compare the engines, not the candidates.
Seeds: ``random_state=0`` for every net, unshuffled 3-fold split.

Worker start-up (loky's processes, the dask clusters and their imports of torch) is paid
once per session; it is measured separately by a warm-up search of one-epoch fits and
excluded from the timed searches. Configurations run round-robin, ``--repeats`` times, so
that a change in the machine's load hits all of them; the load average is recorded
before and after each run. Each repeat runs the configurations of this process first,
then starts each dask cluster in turn, runs its searches and closes it: idle dask workers
cost a few percent of a core each, which would slow down the other configurations.

Outputs: ``benchmarks/results/parallel.csv`` (one row per run) and
``benchmarks/results/parallel.md`` (machine, versions, load, medians, ratios and the
per-task overhead of the fits-per-worker model used in docs/scaling.rst).

Run: ``python benchmarks/parallel.py`` (about 10 minutes on 2 idle cores);
``python benchmarks/parallel.py --smoke`` checks that the script works (2 epochs, one
repeat).
"""

import argparse
import json
import logging
import math
import os
import time
import warnings

import dask
import numpy as np
import pandas as pd
from _harness import RESULTS, machine_lines, write_csv, write_markdown
from joblib import parallel_config
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skreg import RegularizedMLPClassifier

GRID = {
    "regularizedmlpclassifier__dropout": [0.0, 0.3],
    "regularizedmlpclassifier__l2": [0.0, 1e-3],
    "regularizedmlpclassifier__batch_norm": [False, True],
}
N_SPLITS = 3
WORKLOADS = {
    "default": {"hidden": (100,), "epochs": 100},
    "wide": {"hidden": (256, 256), "epochs": 40},
}
# Workers per configuration, for the fits-per-worker model.
WORKERS = {"n_jobs=1": 1, "n_jobs=1, n_threads=1": 1, "n_jobs=2 (loky)": 2,
           "dask, 2 workers": 2, "dask, 2 workers, malloc defaults": 2,
           "n_jobs=2 (threading)": 2}


def search(hidden, epochs, n_jobs, n_threads=None):
    net = RegularizedMLPClassifier(
        hidden, max_iter=epochs, n_iter_no_change=epochs, tol=0.0, random_state=0,
        n_threads=n_threads,
    )
    return GridSearchCV(
        make_pipeline(StandardScaler(), net), GRID, cv=KFold(N_SPLITS), n_jobs=n_jobs
    )


def timed_search(X, y, hidden, epochs, n_jobs, n_threads=None):
    """Run the search once and return its wall time and sklearn's own timings."""
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    fitted = search(hidden, epochs, n_jobs, n_threads).fit(X, y)
    wall = time.perf_counter() - start
    results = fitted.cv_results_
    return {
        "wall_s": wall,
        "refit_s": fitted.refit_time_,
        # Work done in the workers: every fit and scoring, summed over folds and candidates.
        "task_s_sum": float(
            ((results["mean_fit_time"] + results["mean_score_time"]) * N_SPLITS).sum()
        ),
        "n_tasks": len(results["params"]) * N_SPLITS,
        "best_score": fitted.best_score_,
        "load1_before": load_before,
        "load1_after": os.getloadavg()[0],
    }


def warm_up(X, y, n_jobs):
    """Start the workers and import torch in them; return the seconds it took."""
    start = time.perf_counter()
    search((100,), 1, n_jobs).fit(X, y)
    return time.perf_counter() - start


def malloc_trim_threshold():
    """The calling process's MALLOC_TRIM_THRESHOLD_ (run in the workers)."""
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


# None removes the variable from the environment dask gives its worker processes.
WITHOUT_MALLOC_TRIM = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


def start_cluster(settings=None):
    """A LocalCluster of 2 one-thread worker processes under dask ``settings``, and its client.

    dask's nanny writes its worker environment (``OMP_NUM_THREADS=1``, ...) into this
    process's environment before it spawns the workers; the environment is restored
    afterwards, so that loky's workers and the next cluster do not inherit it.
    """
    from distributed import Client, LocalCluster

    environ = dict(os.environ)
    with dask.config.set(settings or {}):
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=":0", silence_logs=logging.ERROR,
        )
    os.environ.clear()
    os.environ.update(environ)
    return cluster, Client(cluster, set_as_default=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    parser.add_argument("--smoke", action="store_true", help="2 epochs, one repeat")
    parser.add_argument("--output", default="parallel", help="stem of the result files")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the markdown report from the saved CSV and JSON")
    args = parser.parse_args()
    if args.report_only:
        meta = json.loads((RESULTS / f"{args.output}_meta.json").read_text())
        write_report(pd.read_csv(RESULTS / f"{args.output}.csv"), meta, args.output)
        return
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    workloads = {name: dict(WORKLOADS[name]) for name in args.workloads}
    if args.smoke:
        args.repeats = 1
        for workload in workloads.values():
            workload["epochs"] = 2

    X, y = load_digits(return_X_y=True)
    RESULTS.mkdir(exist_ok=True)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_start = os.getloadavg()

    local_configs = {
        "n_jobs=1": {"n_jobs": 1},
        "n_jobs=1, n_threads=1": {"n_jobs": 1, "n_threads": 1},
        "n_jobs=2 (loky)": {"n_jobs": 2},
        "n_jobs=2 (threading)": {"n_jobs": 2},
    }
    cluster_configs = {"dask, 2 workers": {},
                       "dask, 2 workers, malloc defaults": WITHOUT_MALLOC_TRIM}
    rows, start_up, worker_malloc = [], [], {}

    def run(name, backend, workload, repeat, **kwargs):
        settings = workloads[workload]
        with backend:
            row = timed_search(X, y, settings["hidden"], settings["epochs"], **kwargs)
        rows.append({"workload": workload, "config": name, "repeat": repeat, **row})
        print(f"{workload:8s} {name:34s} repeat {repeat}: {row['wall_s']:6.1f} s "
              f"(load {row['load1_before']:.1f} -> {row['load1_after']:.1f})", flush=True)

    for repeat in range(args.repeats):
        # loky's idle workers stop after 5 minutes; start them before each round.
        start_up.append({"repeat": repeat, "what": "loky, first search",
                         "seconds": warm_up(X, y, n_jobs=2)})
        for name, kwargs in local_configs.items():
            backend = "threading" if "threading" in name else "loky"
            for workload in workloads:
                run(name, parallel_config(backend=backend), workload, repeat, **kwargs)
        # One cluster at a time: the idle workers of a cluster cost a few percent of a core
        # each (heartbeats, profiling), which would slow down the other configurations.
        for name, settings in cluster_configs.items():
            start = time.perf_counter()
            cluster, client = start_cluster(settings)
            start_up.append({"repeat": repeat, "what": f"{name}, cluster",
                             "seconds": time.perf_counter() - start})
            # What the workers actually got, recorded with the results.
            worker_malloc[name] = sorted(set(client.run(malloc_trim_threshold).values()), key=str)
            with parallel_config(backend="dask", client=client):
                start_up.append({"repeat": repeat, "what": f"{name}, first search",
                                 "seconds": warm_up(X, y, n_jobs=-1)})
            for workload in workloads:
                run(name, parallel_config(backend="dask", client=client), workload, repeat,
                    n_jobs=-1)
            client.close()
            cluster.close()

    runs = pd.DataFrame(rows)
    write_csv(runs, RESULTS / f"{args.output}.csv")
    meta = dict(repeats=args.repeats, smoke=args.smoke, workloads=workloads, started=started,
                load_start=list(load_start), start_up=start_up, worker_malloc=worker_malloc)
    (RESULTS / f"{args.output}_meta.json").write_text(json.dumps(meta, indent=1))
    write_report(runs, meta, args.output)


def summarize(runs):
    """Medians per configuration, speed-ups and the per-task overhead of one workload."""
    summary = runs.groupby("config", sort=False).agg(
        wall_s=("wall_s", "median"), wall_min=("wall_s", "min"), wall_max=("wall_s", "max"),
        refit_s=("refit_s", "median"), task_s_sum=("task_s_sum", "median"),
        n_tasks=("n_tasks", "first"), load1=("load1_before", "median"),
    )
    baseline = summary.loc["n_jobs=1", "wall_s"]
    summary["speed-up vs n_jobs=1"] = baseline / summary["wall_s"]
    summary["mean task (s)"] = summary["task_s_sum"] / summary["n_tasks"]
    # Fits-per-worker model: wall = refit + ceil(n_tasks / k) * (mean task time + overhead).
    # The overhead per task is what the measured wall time leaves unexplained.
    rounds = np.ceil(summary["n_tasks"] / summary.index.map(WORKERS))
    summary["overhead per task (s)"] = (
        (summary["wall_s"] - summary["refit_s"]) / rounds - summary["mean task (s)"]
    )
    return summary


def write_report(runs, meta, output):
    command = "python benchmarks/parallel.py" + (" --smoke" if meta["smoke"] else "") + (
        f" --repeats {meta['repeats']}" if meta["repeats"] != 3 and not meta["smoke"] else "")
    start_up = pd.DataFrame(meta["start_up"]).groupby("what", sort=False)["seconds"].median()
    warm = "; ".join(f"{what} {seconds:.1f} s" for what, seconds in start_up.items())
    lines = [
        "# Parallel search: 1 vs 2 workers",
        "",
        *([meta["note"], ""] if meta.get("note") else []),
        f"Measured {meta['started']} with `{command}`.",
        "",
        *machine_lines(("torch", "skorch", "scikit-learn", "joblib", "dask", "distributed")),
        "- Load average (1, 5, 15 min) at the start: "
        + ", ".join(f"{v:.2f}" for v in meta["load_start"]),
        "",
        "Search: GridSearchCV, 8 candidates (dropout x l2 x batch_norm), 3-fold, refit: "
        "24 fits plus the refit on digits (1,797 x 64).",
        "",
        "Start-up, excluded from the timed runs (median over repeats; a first search imports "
        f"torch in the workers): {warm}.",
        "",
        "MALLOC_TRIM_THRESHOLD_ in the dask workers' environment: " + "; ".join(
            f"{name}: {values}" for name, values in meta.get("worker_malloc", {}).items()),
        "",
    ]
    for workload, settings in meta["workloads"].items():
        summary = summarize(runs[runs["workload"] == workload])
        table = summary.rename(columns={
            "wall_s": "wall (s), median", "wall_min": "min", "wall_max": "max",
            "refit_s": "refit (s)", "load1": "load (1 min), median",
        }).drop(columns=["task_s_sum", "n_tasks"])
        hidden = ", ".join(map(str, settings["hidden"]))
        lines += [
            f"## Workload `{workload}`: hidden layers ({hidden}), {settings['epochs']} epochs "
            "per fit",
            "",
            table.to_markdown(floatfmt=".2f"),
            "",
            "### Extrapolation to k workers (a model, not a measurement)",
            "",
            model_table(summary).to_markdown(index=False, floatfmt=".2f"),
            "",
        ]
    lines += [
        "`mean task` is the fit plus scoring time of one fold, measured inside the worker; "
        "`overhead per task` is (wall - refit) / ceil(tasks / workers) - mean task: "
        "what dispatch, data transfer and idle workers add per task.",
        "",
        "The model: wall(k) = refit + ceil(tasks / k) x (task + overhead), with the refit and "
        "the mean task time of the sequential single-thread runs (each fit alone on a core) "
        "and the per-task overhead of the 2-worker dask runs with malloc defaults. Speed-up is "
        "against one single-threaded worker, wall(1) = refit + tasks x task. It assumes k "
        "workers that each get a core of their own, equal task times and no start-up (a "
        "long-lived cluster); a 1,280-task search is 4 strengths for each of 4 regularizers "
        "with 5-fold CV, with tasks of the same size.",
        "",
        "Runs, in the order they ran:",
        "",
        runs[["workload", "config", "repeat", "wall_s", "load1_before", "load1_after"]]
        .to_markdown(index=False, floatfmt=".2f"),
        "",
    ]
    write_markdown(lines, RESULTS / f"{output}.md")
    print("\n".join(lines))


def model_table(summary, workers=(1, 2, 4, 8, 16, 32), task_counts=(None, 1280)):
    """Predicted wall times and speed-ups of the fits-per-worker model.

    Task and refit times come from the sequential single-thread runs (one fit alone on
    a core), the per-task overhead from the 2-worker dask runs with malloc defaults.
    """
    alone = summary.loc["n_jobs=1, n_threads=1"]
    task, refit = alone["mean task (s)"], alone["refit_s"]
    overhead = max(0.0, summary.loc["dask, 2 workers, malloc defaults", "overhead per task (s)"])
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
