"""What every benchmark records beside its numbers, and how it writes them.

A result is only comparable with another when both say where they were measured: the
machine (processor, cores, torch's threads), the versions of the libraries, the git
commit of the code, and the load average around the run (timings on a shared machine are
noisy). The scripts in this folder import this module as ``_harness`` (they run as
``python benchmarks/<script>.py``, which puts this folder on ``sys.path``).
"""

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]


def processor():
    """The processor's model name from ``/proc/cpuinfo``, else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def version(name):
    """The installed version of the distribution ``name`` ("not installed" if absent)."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def versions(names):
    """``{name: version}`` of the distributions ``names``, in their order."""
    return {name: version(name) for name in names}


def machine(device="cpu"):
    """The machine and the versions a speed result depends on, as an ordered dict.

    Parameters
    ----------
    device : str, default="cpu"
        With a CUDA device, the GPU's name is added.
    """
    import torch

    info = {
        "machine": platform.machine(),
        "processor": processor(),
        "cpu cores": os.cpu_count(),
        "torch threads": torch.get_num_threads(),
        "python": platform.python_version(),
        **versions(["torch", "skorch", "scikit-learn", "numpy"]),
    }
    if torch.device(device).type == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
    return info


def machine_lines(names=("torch", "skorch", "scikit-learn")):
    """The machine as markdown list items: processor and cores, Python and OS, versions."""
    import torch

    listed = ", ".join(f"{name} {v}" for name, v in versions(names).items())
    cpu = (f"- CPU: {processor()}; {os.cpu_count()} logical cores; torch's default threads here: "
           f"{torch.get_num_threads()}")
    return [
        cpu,
        f"- Python {platform.python_version()} on {platform.platform()}",
        f"- {listed}",
    ]


def load_average(digits=2):
    """The 1, 5 and 15-minute load averages, rounded to ``digits``."""
    return tuple(round(value, digits) for value in os.getloadavg())


def git_commit():
    """The commit the benchmark runs on, with "+changes" when the tree differs from it."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return commit + (" +changes" if dirty.strip() else "")


def write_csv(frame, path, index=False):
    """Write a DataFrame as CSV, creating the folder; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=index)
    return path


def write_markdown(text, path):
    """Write markdown text (a string, or lines joined by newlines), creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if isinstance(text, str) else "\n".join(text))
    return path
