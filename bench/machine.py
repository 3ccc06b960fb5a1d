"""The machine line every benchmark prints with its figures: CPUs, CPU model, Python, OS.

Imported by the scripts beside it (run as ``.venv/bin/python bench/<script>.py``, which puts
this folder first on ``sys.path``).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path


def machine() -> str:
    """``nproc=2 cpu='AMD EPYC …' python=3.11.7 os=Linux 6.18…``: where the figures came from."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor() or model
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"nproc={cpus} cpu={model!r} python={platform.python_version()} "
        f"os={platform.system()} {platform.release()}"
    )


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, for runs on shared machines."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"
