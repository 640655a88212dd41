"""How much slower is one fit inside a dask worker than inside a loky worker?

Two workers run the same fits at the same time, one series per worker, in

- ``loky``: joblib's default process workers (``n_jobs=2``);
- ``dask default``: a ``LocalCluster`` of 2 one-thread worker processes, dask's defaults;
- ``dask, profiler off``: the same with ``distributed.worker.profile.enabled: False``
  (the worker samples its threads' stacks every 10 ms by default);
- ``dask, rare ticks``: the worker's periodic work made rarer
  (``distributed.admin.tick.interval`` and
  ``distributed.worker.memory.monitor-interval`` at 1 s instead of 20 ms and 100 ms);
- ``dask, quiet``: both.

Each fit trains the estimator's default network (one hidden layer of 100 units) for 100
epochs on 2/3 of the digits data, as one fold of ``benchmarks/parallel.py``'s default
workload. Each worker runs ``--fits`` fits after one warm-up fit; the per-fit time is
measured inside the worker. Configurations run round-robin ``--repeats`` times.

Outputs ``benchmarks/results/dask_overhead.{csv,md}``.
Run: ``python benchmarks/dask_overhead.py`` (about 4 minutes on 2 idle cores).
"""

import argparse
import os
import time
import warnings

import numpy as np
import pandas as pd
from _harness import RESULTS, version, write_csv, write_markdown
from joblib import Parallel, delayed
from parallel import start_cluster

CLUSTER_SETTINGS = {
    "dask default": {},
    "dask, profiler off": {"distributed.worker.profile.enabled": False},
    "dask, rare ticks": {
        "distributed.admin.tick.interval": "1s",
        "distributed.worker.memory.monitor-interval": "1s",
    },
    "dask, quiet": {
        "distributed.worker.profile.enabled": False,
        "distributed.admin.tick.interval": "1s",
        "distributed.worker.memory.monitor-interval": "1s",
    },
}


def fit_times(n_fits):
    """Seconds of each of ``n_fits`` fits in the calling process, after a warm-up fit."""
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.preprocessing import StandardScaler

    from skreg import RegularizedMLPClassifier

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    X, y = load_digits(return_X_y=True)
    rows = 2 * len(X) // 3
    X, y = StandardScaler().fit_transform(X)[:rows], y[:rows]
    times = []
    for _ in range(n_fits + 1):
        start = time.perf_counter()
        RegularizedMLPClassifier(max_iter=100, n_iter_no_change=100, tol=0.0,
                                 random_state=0).fit(X, y)
        times.append(time.perf_counter() - start)
    return times[1:]


def on_dask(settings, n_fits):
    cluster, client = start_cluster(settings)
    with client:
        workers = list(client.scheduler_info()["workers"])
        futures = [client.submit(fit_times, n_fits, workers=[w], pure=False) for w in workers]
        results = client.gather(futures)
    cluster.close()
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fits", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_start = os.getloadavg()
    rows = []
    for repeat in range(args.repeats):
        runs = {"loky": lambda: Parallel(n_jobs=2)(delayed(fit_times)(args.fits) for _ in range(2))}
        for name, settings in CLUSTER_SETTINGS.items():
            runs[name] = lambda settings=settings: on_dask(settings, args.fits)
        for name, run in runs.items():
            for worker, times in enumerate(run()):
                rows += [{"config": name, "repeat": repeat, "worker": worker, "fit_s": t}
                         for t in times]
            print(f"{name:20s} repeat {repeat}: median fit "
                  f"{np.median([r['fit_s'] for r in rows if r['config'] == name]):.3f} s",
                  flush=True)
    runs = pd.DataFrame(rows)
    write_csv(runs, RESULTS / "dask_overhead.csv")
    summary = runs.groupby("config", sort=False)["fit_s"].agg(["median", "min", "max", "count"])
    summary["vs loky"] = summary["median"] / summary.loc["loky", "median"]
    lines = [
        "# One fit in a dask worker against one in a loky worker",
        "",
        f"Measured {started} with `python benchmarks/dask_overhead.py --fits {args.fits} "
        f"--repeats {args.repeats}`; load average at the start "
        + ", ".join(f"{v:.2f}" for v in load_start) + f", after {os.getloadavg()[0]:.2f}.",
        f"dask {version('dask')}; {os.cpu_count()} cores; two workers fitting at the same time.",
        "",
        summary.to_markdown(floatfmt=".3f"),
        "",
        "Seconds per fit (default network, 100 epochs, 1,198 digits rows), measured inside "
        "the worker, over both workers and all repeats.",
        "",
    ]
    write_markdown(lines, RESULTS / "dask_overhead.md")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
