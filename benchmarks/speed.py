"""Training and prediction speed of skreg against its peers, all timed in the same run.

Contenders, all training the same network (``hidden`` ReLU layers, one logit with
binary cross-entropy as a binary classifier has, Adam with learning rate 1e-3, one
shuffle per epoch, the same batch size):

* ``hand-written loop``: plain PyTorch, the reference. Tensors made once, one
  ``randperm`` per epoch, batches gathered by index, the loss summed on the
  device and read once per epoch. Its Adam is the one skreg builds: torch's
  fused implementation on a CPU (where torch has it), torch's default
  elsewhere.
* ``hand-written, default Adam`` (CPU only): the same loop with torch's default
  Adam, which is what skorch's defaults and most hand-written loops use.
* ``skreg``: ``RegularizedMLPClassifier`` (training through skorch).
* ``skreg l1+l2``: the same with ``l1=1e-5, l2=1e-4``, which shows the cost of the penalty.
* ``skreg cuda_graph`` (``--device cuda`` only): skreg with ``cuda_graph=True``.
* ``skorch default``: ``skorch.NeuralNetBinaryClassifier`` with its default data path.
* ``sklearn MLPClassifier`` (CPU only).

Sections:

1. ``large``: n=50,000 rows, d=40, 2x256 (CPU default); fit time per epoch, the
   ratio to the hand-written loop and the achieved GFLOP/s next to a large
   matrix product's GFLOP/s measured in the same run (the practical limit).
   Prediction: ``predict_proba`` against a raw eval-mode forward pass.
   ``penalty``: the share of an epoch spent in the L1/L2 penalty (``l1+l2``,
   ``l1``, ``l2``), timed inside the fits, and the epoch time against fits
   without a penalty (see ``section_penalty``).
2. ``small``: breast_cancer (569 x 30, standardized), 2x256, batch 256, 200
   epochs, no validation; fit time including the fixed cost per fit.
3. ``sklearn default``: skreg against ``MLPClassifier`` with the same arguments,
   sklearn's defaults (one hidden layer, batch "auto", Adam, ``alpha=1e-4``), on
   10-class data with 16 features, over a grid of widths (32, 100, 256) and rows
   (500, 5,000, 50,000), about 600 steps per fit; the ratio skreg / sklearn, and
   the floor of eager torch on the same network (``fit_eager_floor``: a plain loop
   with fused Adam and nothing else) against sklearn
   (``--sklearn-default-only`` runs this section alone).
4. ``scaling``: skreg alone on 10,000 to 1,000,000 rows (d=40), one subprocess
   per size; time per epoch (median of skorch's ``dur``, the epochs alone) and
   the whole fit, and the peak memory of the fit. Peak memory is the
   process's resident-set high-water mark (``VmHWM``), reset through
   ``/proc/self/clear_refs`` just before ``fit`` and read just after, minus the
   resident set before ``fit``: it sees torch's CPU allocations, which
   ``tracemalloc`` does not. ``fit`` gets the data as float64 (the usual numpy
   input), so the float32 copy that validation makes is part of the peak. With
   ``--device cuda`` the device's peak is reported too, from torch's allocator
   (``torch.cuda.max_memory_allocated``), which the resident set does not see.

Each timing is the median over ``--repeats`` runs, the contenders interleaved
so that a change of machine load hits all of them alike. The load average is
recorded next to the results: timings on a shared machine are noisy, so
compare ratios from the same run.

Run: ``PYTHONPATH=. python benchmarks/speed.py`` (``--quick`` for a smoke run,
``--device cuda`` on a GPU: n=500,000, d=64, 2x512, batches 256 and 1024).
Results go to ``benchmarks/results/speed-<device>[-<N>thread][-quick].{csv,md}``.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pandas as pd
import skorch
import torch
from _harness import RESULTS, git_commit, load_average, machine, write_csv, write_markdown
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from torch import nn

from skreg import RegularizedMLPClassifier
from skreg._device import uses_fused_adam
from skreg._module import MLPModule, initialized_linear
from skreg._penalty import InPlacePenalty

LEARNING_RATE = 1e-3

# Settings per device; ``--quick`` shrinks them to a smoke run.
SETTINGS = {
    "cpu": dict(n=50_000, d=40, hidden=(256, 256), batches=(256,), epochs=5, repeats=5,
                small_epochs=200, scaling=(10_000, 30_000, 100_000, 300_000, 1_000_000),
                sklearn_widths=(32, 100, 256), sklearn_rows=(500, 5_000, 50_000)),
    "cuda": dict(n=500_000, d=64, hidden=(512, 512), batches=(256, 1024), epochs=5, repeats=5,
                 small_epochs=200, scaling=(10_000, 100_000, 1_000_000),
                 sklearn_widths=(32, 100, 256), sklearn_rows=(500, 5_000, 50_000)),
}
QUICK = dict(n=5_000, epochs=2, repeats=2, small_epochs=20, scaling=(10_000, 30_000),
             sklearn_widths=(32,), sklearn_rows=(500,))


# ---------------------------------------------------------------------------- helpers
def synchronize(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def clock(device):
    synchronize(device)
    return time.perf_counter()


def make_data(n, d, seed=0):
    """Gaussian features (float32) and a binary label from a noisy linear rule."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d), dtype=np.float32)
    w = rng.standard_normal(d, dtype=np.float32)
    y = (X @ w + rng.standard_normal(n, dtype=np.float32) > 0).astype(np.int64)
    return X, y


def training_flops(n_rows, d, hidden, n_outputs=1):
    """Multiply-add FLOPs of one epoch: forward and weight gradients of every layer,
    input gradients of every layer but the first (its input needs none)."""
    widths = [d, *hidden, n_outputs]
    macs = [a * b for a, b in zip(widths[:-1], widths[1:])]
    return 2 * n_rows * (2 * sum(macs) + sum(macs[1:]))


def matmul_gflops(device, size=2048, repeats=10):
    """GFLOP/s of a large float32 matrix product, best of ``repeats``: the practical peak."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    a @ b
    times = []
    for _ in range(repeats):
        start = clock(device)
        a @ b
        times.append(clock(device) - start)
    return 2 * size**3 / min(times) / 1e9


def quiet():
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    warnings.filterwarnings("ignore", message=".*Maximum iterations.*")


# ---------------------------------------------------------------------------- contenders
def fit_hand_written(X, y, hidden, batch_size, epochs, device, fused=None):
    """The reference: a plain PyTorch loop over the identical network and optimizer.

    ``fused=None`` builds Adam as skreg does (fused on a CPU where torch has
    it); ``fused=False`` is torch's default Adam.
    """
    start = clock(device)
    torch.manual_seed(0)
    n, d = X.shape
    module = MLPModule(d, 1, list(hidden), "relu", [0.0] * len(hidden), False).to(device)
    if fused is None:
        fused = uses_fused_adam(device)
    optimizer = torch.optim.Adam(module.parameters(), lr=LEARNING_RATE, fused=fused or None)
    criterion = nn.BCEWithLogitsLoss()
    X_t = torch.from_numpy(X).to(device)
    y_t = torch.from_numpy(y.astype(np.float32).reshape(-1, 1)).to(device)
    module.train()
    for _ in range(epochs):
        order = torch.randperm(n, device=device)
        total = torch.zeros((), device=device)
        for first in range(0, n, batch_size):
            index = order[first : first + batch_size]
            optimizer.zero_grad()
            loss = criterion(module(X_t[index]), y_t[index])
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(index)
        float(total)
    return clock(device) - start


def skreg_model(hidden, batch_size, epochs, device, **params):
    return RegularizedMLPClassifier(
        hidden, batch_size=batch_size, max_iter=epochs, tol=0.0, n_iter_no_change=epochs + 1,
        learning_rate_init=LEARNING_RATE, random_state=0, device=device,
        # The reference loops have no penalty; sklearn's default alpha is timed in its section.
        **{"alpha": 0.0, **params},
    )


def fit_skreg(X, y, hidden, batch_size, epochs, device, **params):
    model = skreg_model(hidden, batch_size, epochs, device, **params)
    start = clock(device)
    model.fit(X, y)
    return clock(device) - start


def fit_skorch_default(X, y, hidden, batch_size, epochs, device):
    net = skorch.NeuralNetBinaryClassifier(
        MLPModule, module__n_features=X.shape[1], module__n_outputs=1,
        module__hidden_layer_sizes=list(hidden), module__activation="relu",
        module__dropout=[0.0] * len(hidden), module__batch_norm=False,
        criterion=nn.BCEWithLogitsLoss, optimizer=torch.optim.Adam, lr=LEARNING_RATE,
        batch_size=batch_size, max_epochs=epochs, train_split=None,
        iterator_train__shuffle=True, verbose=0, device=device,
    )
    y_float = y.astype(np.float32)  # skorch's binary classifier trains on float targets
    start = clock(device)
    torch.manual_seed(0)
    net.fit(X, y_float)
    return clock(device) - start


def fit_sklearn(X, y, hidden, batch_size, epochs, device):
    model = MLPClassifier(
        hidden, solver="adam", learning_rate_init=LEARNING_RATE, batch_size=batch_size,
        max_iter=epochs, tol=0.0, n_iter_no_change=epochs + 1, random_state=0,
    )
    start = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - start


def contenders(device):
    runs = {
        "hand-written loop": fit_hand_written,
        "skreg": fit_skreg,
        "skreg l1+l2": lambda *a: fit_skreg(*a, l1=1e-5, l2=1e-4),
    }
    if torch.device(device).type == "cpu":
        runs["hand-written, default Adam"] = lambda *a: fit_hand_written(*a, fused=False)
    if torch.device(device).type == "cuda":
        runs["skreg cuda_graph"] = lambda *a: fit_skreg(*a, cuda_graph=True)
    runs["skorch default"] = fit_skorch_default
    if torch.device(device).type == "cpu":
        runs["sklearn MLPClassifier"] = fit_sklearn
    return runs


def settle(seconds=0.5):
    """Wait for the previous run's idle BLAS threads to stop spinning.

    OpenBLAS (numpy's, used by sklearn's MLPClassifier) keeps its threads
    spinning for a while after a call. On a 2-core machine they took cores from
    the next contender: a hand-written loop timed right after an MLPClassifier
    fit took 1.18x as long as after a pause of half a second.
    """
    time.sleep(seconds)


def interleaved(runs, repeats, reference, *args):
    """Time the runs in ``repeats`` rounds, each run once per round, after a warm-up each.

    Returns each run's median seconds and its median ratio to ``reference``
    within a round. This machine's speed drifts by up to a fifth over tens of
    seconds; a ratio within a round, whose runs follow each other, is steadier
    than the ratio of two medians taken over the whole section.
    """
    for fn in runs.values():
        fn(*args)
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            settle()
            times[name].append(fn(*args))
    base = np.asarray(times[reference])
    return {
        name: (float(np.median(t)), float(np.median(np.asarray(t) / base)))
        for name, t in times.items()
    }


# ---------------------------------------------------------------------------- sections
def sklearn_default_data(n, seed=0):
    """10 classes from 16 Gaussian features (sklearn's ``make_classification``)."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n, 16, n_informative=10, n_classes=10, random_state=seed)
    return X.astype(np.float32), y


def sklearn_default_epochs(n, steps=600):
    """Epochs of about ``steps`` training steps of sklearn's default batch (200 rows)."""
    return max(2, int(np.ceil(steps / np.ceil(n / min(200, n)))))


def fit_with_sklearns_settings(Estimator, X, y, width, epochs):
    """Fit ``Estimator`` with sklearn's MLP defaults (adam, alpha=1e-4, batch "auto") for
    ``epochs`` epochs; skreg and sklearn take the same arguments here."""
    model = Estimator(
        hidden_layer_sizes=(width,), max_iter=epochs, n_iter_no_change=np.inf, random_state=0
    )
    start = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - start


def fit_eager_floor(X, y, width, epochs):
    """The floor of eager torch for sklearn's default network: a plain loop, fused Adam.

    One hidden ReLU layer, softmax cross-entropy, batch 200, sklearn's ``alpha=1e-4``
    added to the weights' gradients in place (as skreg does), one permutation per
    epoch; nothing else (no validation, no epoch loss, no callbacks).
    """
    alpha = 1e-4
    start = time.perf_counter()
    generator = torch.Generator().manual_seed(0)
    n_classes = int(y.max()) + 1
    hidden = initialized_linear(X.shape[1], width, generator)
    output = initialized_linear(width, n_classes, generator)
    module = nn.Sequential(hidden, nn.ReLU(), output)
    optimizer = torch.optim.Adam(module.parameters(), lr=LEARNING_RATE, fused=True)
    criterion = nn.CrossEntropyLoss()
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    weights = [hidden.weight, output.weight]
    n = len(X_t)
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for first in range(0, n, 200):
            index = order[first : first + 200]
            optimizer.zero_grad()
            criterion(module(X_t[index]), y_t[index]).backward()
            torch._foreach_add_([w.grad for w in weights], weights, alpha=alpha / len(index))
            optimizer.step()
    return time.perf_counter() - start


def section_sklearn_default(widths, sizes, repeats):
    """skreg against ``MLPClassifier`` with the same (sklearn's default) settings.

    One hidden layer (sklearn's default network is one layer of 100), batch
    "auto" (200 rows), Adam at 1e-3, ``alpha=1e-4``, 10 classes, 16 features;
    every width x rows cell times both estimators in interleaved rounds, and
    reports the median of the within-round ratios skreg / sklearn.
    """
    runs = {
        "skreg": lambda *a: fit_with_sklearns_settings(RegularizedMLPClassifier, *a),
        "sklearn MLPClassifier": lambda *a: fit_with_sklearns_settings(MLPClassifier, *a),
        "eager torch floor": fit_eager_floor,
    }
    rows = []
    for n in sizes:
        X, y = sklearn_default_data(n)
        epochs = sklearn_default_epochs(n)
        for width in widths:
            timed = interleaved(runs, repeats, "sklearn MLPClassifier", X, y, width, epochs)
            steps = epochs * int(np.ceil(n / min(200, n)))
            rows.append({
                "rows": n, "width": width, "epochs": epochs, "steps": steps,
                "skreg_s": timed["skreg"][0], "sklearn_s": timed["sklearn MLPClassifier"][0],
                "skreg_us_per_step": 1e6 * timed["skreg"][0] / steps,
                "sklearn_us_per_step": 1e6 * timed["sklearn MLPClassifier"][0] / steps,
                "ratio_skreg_to_sklearn": timed["skreg"][1],
                "floor_us_per_step": 1e6 * timed["eager torch floor"][0] / steps,
                "ratio_floor_to_sklearn": timed["eager torch floor"][1],
            })
            print(rows[-1], flush=True)
    return rows


def section_fit(name, X, y, hidden, batch_size, epochs, repeats, device, peak_gflops):
    timed = interleaved(contenders(device), repeats, "hand-written loop", X, y, hidden,
                        batch_size, epochs, device)
    flops = training_flops(X.shape[0], X.shape[1], hidden) * epochs
    rows = []
    for contender, (s, ratio) in timed.items():
        rows.append({
            "section": name, "contender": contender, "rows": X.shape[0], "features": X.shape[1],
            "hidden": "x".join(map(str, hidden)), "batch_size": batch_size, "epochs": epochs,
            "ms_per_epoch": 1e3 * s / epochs, "ratio_to_hand_written": ratio,
            "gflops": flops / s / 1e9, "fraction_of_matmul_peak": flops / s / 1e9 / peak_gflops,
        })
    return rows


@contextmanager
def timed_penalty(device):
    """Clock every call of the training step's penalty (:class:`InPlacePenalty`).

    Yields a list whose first item collects the seconds spent in it.
    """
    original = InPlacePenalty.__call__
    spent = [0.0]

    def timed(self, l1, l2, loss=None):
        start = clock(device)
        value = original(self, l1, l2, loss)
        spent[0] += clock(device) - start
        return value

    with patch.object(InPlacePenalty, "__call__", timed):
        yield spent


PENALTIES = {"l1+l2": dict(l1=1e-5, l2=1e-4), "l1": dict(l1=1e-5), "l2": dict(l2=1e-4)}


def penalty_arithmetic_skipped():
    """Make the training step's penalty return the data loss untouched (a context manager).

    The step still takes its penalty path (the cache, the call, the added
    value), so a fit under this shows what the path costs without the
    penalty's passes over the weights.
    """
    return patch.object(InPlacePenalty, "__call__", lambda self, l1, l2, loss=None: loss + 0.0)


def section_penalty(X, y, hidden, batch_size, epochs, repeats, device):
    """The penalty's cost, measured two ways in the same rounds of fits.

    ``penalty_share_of_epoch``: the seconds spent in the penalty (its value and
    its gradient, once per batch) over the seconds of the epochs (skorch's
    ``dur``), in the same fits; the clock around each call adds about a
    microsecond. ``epoch_ratio_to_no_penalty``: the epoch time over that of
    the fit without a penalty in the same round (median over twice ``repeats``
    rounds, the order of the fits rotating from round to round), which
    also counts what the penalty costs the rest of the step. The row
    ``l1+l2, arithmetic skipped`` takes the penalty's path with its arithmetic
    left out (:func:`penalty_arithmetic_skipped`). On a GPU the penalty's
    kernels run asynchronously, and a clock around the call would have to
    synchronize and stall the queue, so there only the epoch ratios are measured.
    """
    timed = torch.device(device).type == "cpu"
    skipped = "l1+l2, arithmetic skipped"
    fits = {"none": {}, **PENALTIES, skipped: PENALTIES["l1+l2"]}
    shares = {name: [] for name in PENALTIES}
    per_step = {name: [] for name in PENALTIES}
    epoch_ms = {name: [] for name in fits}
    names = list(fits)
    rounds = 2 * repeats
    for repeat in range(rounds + 1):  # the first round is a warm-up
        # Each round starts one fit further along, so that no fit always runs
        # first or last in a round while the machine's speed drifts.
        for name in names[repeat % len(names):] + names[:repeat % len(names)]:
            params = fits[name]
            model = skreg_model(hidden, batch_size, epochs, device, **params)
            settle()
            if name == skipped:
                with penalty_arithmetic_skipped():
                    model.fit(X, y)
            elif timed:
                with timed_penalty(device) as spent:
                    model.fit(X, y)
            else:
                model.fit(X, y)
            epoch_seconds = float(np.sum(model.net_.history[:, "dur"]))
            steps = int(np.sum(model.net_.history[:, "train_batch_count"]))
            if not repeat:
                continue
            epoch_ms[name].append(1e3 * epoch_seconds / epochs)
            if name in PENALTIES and timed:
                shares[name].append(spent[0] / epoch_seconds)
                per_step[name].append(spent[0] / steps)
    rows = []
    for name in fits:
        ratios = np.asarray(epoch_ms[name]) / np.asarray(epoch_ms["none"])
        row = {
            "section": "penalty", "contender": f"skreg {name}" if name != "none" else "skreg",
            "rows": X.shape[0], "features": X.shape[1], "hidden": "x".join(map(str, hidden)),
            "batch_size": batch_size, "epochs": epochs,
            "ms_per_epoch": float(np.median(epoch_ms[name])),
            "epoch_ratio_to_no_penalty": float(np.median(ratios)),
        }
        if name in PENALTIES and timed:
            row.update({
                "penalty_us_per_step": 1e6 * float(np.median(per_step[name])),
                "penalty_share_of_epoch": float(np.median(shares[name])),
                "share_min": float(np.min(shares[name])),
                "share_max": float(np.max(shares[name])),
            })
        rows.append(row)
    return rows


def section_predict(X, y, hidden, batch_size, repeats, device):
    """skreg's ``predict_proba`` against a raw eval-mode forward pass of the same module."""
    model = skreg_model(hidden, batch_size, 1, device).fit(X, y)
    module = model.net_.module_

    def raw_forward():
        start = clock(device)
        module.eval()
        with torch.inference_mode():
            float(module(torch.from_numpy(X).to(device)).sum())
        return clock(device) - start

    def skreg_predict():
        start = clock(device)
        model.predict_proba(X)
        return clock(device) - start

    runs = {"raw eval forward": raw_forward, "skreg predict_proba": skreg_predict}
    timed = interleaved(runs, repeats, "raw eval forward")
    return [{
        "section": "predict", "contender": name, "rows": X.shape[0], "features": X.shape[1],
        "hidden": "x".join(map(str, hidden)), "ms": 1e3 * s, "ratio_to_raw_forward": ratio,
    } for name, (s, ratio) in timed.items()]


def scaling_child(n, d, hidden, batch_size, epochs, device):
    """Run in a fresh process: fit skreg on n rows, report time per epoch and peak memory."""
    quiet()
    X32, y = make_data(n, d, seed=1)
    X = X32.astype(np.float64)
    del X32
    model = skreg_model(hidden, batch_size, epochs, device)
    model.fit(X[:1000], y[:1000])  # first-call costs (imports, allocator) out of the way
    model.set_params(max_iter=epochs)

    def status(key):
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))

    cuda = torch.device(device).type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        device_before = torch.cuda.memory_allocated()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    rss_before = status("VmRSS:")
    start = clock(device)
    model.fit(X, y)
    seconds = clock(device) - start
    peak = status("VmHWM:") - rss_before
    # skorch's EpochTimer: the epochs alone, without validation and set-up of the fit.
    epoch_seconds = float(np.median(model.net_.history[:, "dur"]))
    params = sum(p.numel() for p in model.net_.module_.parameters())
    data32 = n * d * 4 + n * 8
    bound = 2 * data32 + params * 4  # the bound on peak memory
    row = {
        "section": "scaling", "contender": "skreg", "rows": n, "features": d,
        "hidden": "x".join(map(str, hidden)), "batch_size": batch_size, "epochs": epochs,
        "ms_per_epoch": 1e3 * epoch_seconds, "ms_per_1000_rows": 1e3 * epoch_seconds / n * 1000,
        "fit_seconds": seconds,
        "peak_fit_memory_mb": peak / 2**20, "float32_data_mb": data32 / 2**20,
        "model_mb": params * 4 / 2**20,
        "peak_over_2x_data_plus_model": peak / bound,
    }
    if cuda:
        # The host's resident set does not see the GPU's memory: torch's
        # allocator reports the device's own peak, above what was held before.
        device_peak = torch.cuda.max_memory_allocated() - device_before
        row["peak_device_memory_mb"] = device_peak / 2**20
        row["device_peak_over_2x_data_plus_model"] = device_peak / bound
    print(json.dumps(row))


def section_scaling(sizes, d, hidden, batch_size, device):
    rows = []
    for n in sizes:
        epochs = int(np.clip(300_000 // n, 2, 5))
        command = [sys.executable, __file__, "--scaling-child", str(n), str(epochs),
                   "--device", device, "--threads", str(torch.get_num_threads())]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [
            str(Path(__file__).resolve().parent.parent), os.environ.get("PYTHONPATH")]))}
        out = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        device_peak = rows[-1].get("peak_device_memory_mb")
        print(f"  scaling n={n:>9,d}: {rows[-1]['ms_per_epoch']:9.1f} ms/epoch, "
              f"peak {rows[-1]['peak_fit_memory_mb']:7.1f} MB"
              + (f" (device {device_peak:.1f} MB)" if device_peak is not None else ""),
              flush=True)
    return rows


# ---------------------------------------------------------------------------- report
def markdown_report(settings, info, peak_gflops, load_before, load_after, frames, device):
    lines = [f"# skreg speed benchmark ({device})", "",
             f"Command: `PYTHONPATH=. python benchmarks/speed.py {' '.join(sys.argv[1:])}`", "",
             f"Date (UTC): {time.strftime('%Y-%m-%d %H:%M', time.gmtime())}", "",
             f"Git commit: {git_commit()}", "",
             "## Machine", ""]
    lines += [f"- {k}: {v}" for k, v in info.items()]
    lines += [f"- load average (1, 5, 15 min) before: {load_before}, after: {load_after}",
              f"- large float32 matrix product (best of 10): {peak_gflops:.1f} GFLOP/s", "",
              "## Settings", ""]
    lines += [f"- {k}: {v}" for k, v in settings.items()]
    lines += ["- timings: `repeats` rounds, each contender once per round after a warm-up "
              "and a pause of 0.5 s; times are medians over the rounds, ratios the median "
              "of the ratios within a round; ms per epoch = fit time / epochs (fixed cost "
              "per fit included)",
              "- Adam: torch's fused implementation for skreg and the hand-written loop on a "
              f"CPU (available here: {uses_fused_adam('cpu')}), torch's default for skorch and "
              "`hand-written, default Adam`",
              "- GFLOP/s: multiply-add FLOPs of the forward and backward passes "
              "(see `training_flops`) per second of fit", ""]
    for title, frame in frames.items():
        lines += [f"## {title}", "", frame.to_markdown(index=False, floatfmt=".3g"), ""]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--quick", action="store_true", help="small smoke run (~1 minute)")
    parser.add_argument("--no-scaling", action="store_true", help="skip the scaling table")
    parser.add_argument("--sklearn-default-only", action="store_true",
                        help="run only the section on sklearn's default network")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch and BLAS (default: torch's default)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--scaling-child", nargs=2, type=int, metavar=("ROWS", "EPOCHS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    settings = dict(SETTINGS[args.device], **(QUICK if args.quick else {}))
    if args.threads:
        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)
    if args.scaling_child:
        rows, epochs = args.scaling_child
        scaling_child(rows, settings["d"], settings["hidden"], settings["batches"][-1], epochs,
                      args.device)
        return
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda was requested, but CUDA is not available here.")
    quiet()
    device = args.device
    info = machine(device)
    load_before = load_average()
    peak_gflops = matmul_gflops(device)
    print(f"large matmul: {peak_gflops:.1f} GFLOP/s; load average {load_before}", flush=True)
    frames = {}
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"speed-{device}" + (f"-{args.threads}thread" if args.threads else "")
    stem += "-quick" if args.quick else ""
    stem += "-sklearn-default" if args.sklearn_default_only else ""

    def save():
        """Write what has been measured so far, so that an interrupted run leaves its data."""
        load_now = load_average()
        table = pd.concat(frames.values(), ignore_index=True)
        table["load_before"] = str(load_before)
        table["load_after"] = str(load_now)
        write_csv(table, args.out / f"{stem}.csv")
        report = markdown_report(settings, info, peak_gflops, load_before, load_now, frames, device)
        write_markdown(report, args.out / f"{stem}.md")
        return load_now

    frames["Fit, sklearn's default network (skreg / MLPClassifier)"] = pd.DataFrame(
        section_sklearn_default(settings["sklearn_widths"], settings["sklearn_rows"],
                                settings["repeats"]))
    save()
    if args.sklearn_default_only:
        print(f"\nwrote {args.out / stem}.csv and .md")
        return

    X, y = make_data(settings["n"], settings["d"])
    rows = []
    for batch_size in settings["batches"]:
        rows += section_fit("large", X, y, settings["hidden"], batch_size, settings["epochs"],
                            settings["repeats"], device, peak_gflops)
    frames["Fit, large data"] = pd.DataFrame(rows)
    print(frames["Fit, large data"].to_string(index=False), flush=True)
    save()

    frames["Penalty, large data"] = pd.DataFrame(section_penalty(
        X, y, settings["hidden"], settings["batches"][0], settings["epochs"], settings["repeats"],
        device))
    print(frames["Penalty, large data"].to_string(index=False), flush=True)
    save()

    frames["Predict, large data"] = pd.DataFrame(section_predict(
        X, y, settings["hidden"], settings["batches"][-1], settings["repeats"], device))
    print(frames["Predict, large data"].to_string(index=False), flush=True)
    save()

    Xs, ys = load_breast_cancer(return_X_y=True)
    Xs = StandardScaler().fit_transform(Xs).astype(np.float32)
    frames["Fit, small data (breast_cancer)"] = pd.DataFrame(section_fit(
        "small", Xs, ys, (256, 256), 256, settings["small_epochs"], settings["repeats"], device,
        peak_gflops))
    print(frames["Fit, small data (breast_cancer)"].to_string(index=False), flush=True)
    save()

    if not args.no_scaling:
        frames["Scaling (skreg)"] = pd.DataFrame(section_scaling(
            settings["scaling"], settings["d"], settings["hidden"], settings["batches"][-1],
            device))
        print(frames["Scaling (skreg)"].to_string(index=False), flush=True)

    load_after = save()
    print(f"\nload average after: {load_after}; wrote {args.out / stem}.csv and .md")


if __name__ == "__main__":
    main()
