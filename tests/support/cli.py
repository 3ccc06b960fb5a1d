"""The ``ferryman`` command, run in a process of its own as an operator or CI runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def ferryman(
    *args: str, cwd: Path, timeout: float = 120, **settings: str | None
) -> subprocess.CompletedProcess[str]:
    """``python -m ferryman ARGS`` in ``cwd``, with this process's environment less its
    FERRYMAN_ variables, and ``settings`` as those (``database_url`` is
    FERRYMAN_DATABASE_URL; None leaves it out)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("FERRYMAN_")}
    env |= {f"FERRYMAN_{name.upper()}": v for name, v in settings.items() if v is not None}
    return subprocess.run(
        [sys.executable, "-m", "ferryman", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
