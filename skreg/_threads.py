"""How many torch threads a fit or prediction uses, so that parallel fits share the cores.

torch runs each operation on a pool of intra-op threads (OpenMP in the CPU builds).
``torch.set_num_threads`` sets the team size of the *calling* thread and also the
process-wide default that every other thread takes when it first runs a torch
operation. When a search runs several fits at once, the fits must split the cores
between them instead of each taking all of them:

* joblib's process workers (``loky``, its default backend) already start with
  ``cpu_count() // n_jobs`` threads, through ``OMP_NUM_THREADS``;
* dask's worker processes start with one thread (dask sets ``OMP_NUM_THREADS=1``);
* but fits that run in the *threads* of one process (joblib's ``threading``
  backend, a dask worker with several threads, dask workers started with
  ``processes=False``) share one process, and each would use every core.

:func:`torch_threads` applies skreg's rule around a fit or a prediction and restores
the previous setting afterwards.
"""

import os
import sys
import threading
import warnings
from contextlib import contextmanager

import torch
from joblib.parallel import get_active_backend

_lock = threading.Lock()
# Fits and predictions of this process that are running with a thread count set by
# torch_threads, and torch's setting before the first of them began.
_active = 0
_setting_before = None
# How many torch_threads blocks the current thread is inside (a fit within a fit).
_depth = threading.local()


def dask_worker_threads():
    """Number of tasks the dask worker running this code executes at once, or None."""
    if "distributed" not in sys.modules:  # dask cannot be running us if it is not imported
        return None
    from distributed import get_worker

    try:
        return get_worker().state.nthreads
    except ValueError:  # not inside a dask task
        return None


def in_joblib_worker_thread():
    """True inside a task that joblib runs in a worker thread of the calling process."""
    backend, _ = get_active_backend()
    nested = (getattr(backend, "nesting_level", None) or 0) >= 1
    return nested and threading.current_thread() is not threading.main_thread()


def concurrent_tasks_hint():
    """How many fits this process may run at once, as far as the calling context says.

    Returns None outside the thread workers of joblib and dask, where skreg leaves
    torch's setting alone.
    """
    dask_threads = dask_worker_threads()
    if dask_threads is not None:
        return dask_threads
    if in_joblib_worker_thread():
        # joblib only uses threads for n_jobs >= 2, and a worker cannot see n_jobs:
        # 2 is the least number of tasks sharing the process.
        return 2
    return None


def auto_thread_count(budget, running):
    """Threads for one fit under ``n_threads=None``, or None to leave torch's setting alone.

    Parameters
    ----------
    budget : int
        torch's thread setting in this process before any of the running fits began.
    running : int
        Fits of this process running with a thread count from :func:`torch_threads`,
        this one included.
    """
    hint = concurrent_tasks_hint()
    if hint is None:
        return None
    return max(1, budget // max(hint, running))


def available_cores():
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def warn_if_oversubscribed(n_threads):
    """Warn when ``n_threads`` asks for more threads than there are cores to run them."""
    cores = available_cores()
    if n_threads is not None and n_threads > cores:
        warnings.warn(
            f"n_threads={n_threads} is more than the {cores} CPU cores this process can use; "
            "the extra threads only compete for the same cores, which slows torch down. "
            f"Use n_threads <= {cores}, or None.",
            UserWarning,
            stacklevel=4,
        )


@contextmanager
def torch_threads(n_threads):
    """Run the block with torch's intra-op threads set by skreg's ``n_threads`` rule.

    Parameters
    ----------
    n_threads : int or None
        An int sets the threads of the calling thread for the block (with a
        warning when it exceeds the cores this process can use). None applies
        the automatic rule: inside a thread worker of joblib or dask, the threads
        that torch had before the first of this process's running fits began are
        split between ``max(worker threads, running fits)`` fits (``2`` worker
        threads for joblib, whose workers do not know ``n_jobs``); anywhere else
        torch's setting is left alone.

    Notes
    -----
    On exit the calling thread gets back the setting it had (or, when fits of other
    threads were already running, the setting from before the first of them, since a
    thread that first used torch during a fit took the lowered default), and torch's
    process-wide default is back to what it was once the last running fit ends.
    """
    global _active, _setting_before
    warn_if_oversubscribed(n_threads)
    with _lock:
        # Reading the setting first also makes torch initialize this thread's pool now:
        # a thread's first torch call resets its team size to the process default, which
        # would undo a set_num_threads made before it.
        current = torch.get_num_threads()
        first = _active == 0
        budget = current if first else _setting_before
        threads = n_threads if n_threads is not None else auto_thread_count(budget, _active + 1)
        if threads is None:
            restore = None
        else:
            _active += 1
            if first:
                _setting_before = budget
            nested = getattr(_depth, "value", 0) > 0
            restore = current if nested else budget
            _depth.value = getattr(_depth, "value", 0) + 1
            torch.set_num_threads(threads)
    try:
        yield
    finally:
        if restore is not None:
            with _lock:
                _active -= 1
                _depth.value -= 1
                torch.set_num_threads(restore)
