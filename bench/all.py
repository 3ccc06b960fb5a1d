"""Every benchmark, one after the other, into the generated section of bench/RESULTS.md.

Runs the update-check cases (``updater.py``), what counting them costs (``analytics.py``),
one worker against two (``workers.py``),
many tenants (``tenants.py``), publish-to-visible on both databases (``visibility.py``),
where a HIT's and an origin check's time goes (``profile.py``), the console's heaviest
pages (``console.py``) and the command's start-up
(``startup.sh``), and replaces what lies between the two markers in RESULTS.md with their
tables, headed by the date, the machine, the load average before and after, and the
versions that were measured. The hand-written sections around it are left alone.

    .venv/bin/python bench/all.py [--quick]

``--quick`` runs every case briefly (to check that they all still work), and prints the
tables instead of writing them. Needs ``wrk`` and ``hyperfine`` (Debian packages), py-spy.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for bench/
from bench.machine import load_average, machine

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "RESULTS.md"
BEGIN = "<!-- bench/all.py writes below; edit above or below the markers -->"
END = "<!-- end of bench/all.py -->"
VERSIONS = ("ferryman", "uvicorn", "uvloop", "httptools", "starlette", "tortoise-orm")
VERSIONS += ("strawberry-graphql", "prometheus-client", "aiosqlite", "asyncpg")

# (title, command, the same command when --quick)
CASES: list[tuple[str, list[str], list[str]]] = [
    (
        "Update checks against a bare ASGI app (`updater.py`)",
        ["updater.py", "--connections", "64", "--rounds", "3", "--seconds", "5"],
        ["updater.py", "--connections", "64", "--rounds", "1", "--seconds", "1"],
    ),
    (
        "Counting every update check: the HIT path with analytics on and off (`analytics.py`)",
        ["analytics.py", "--connections", "32", "--rounds", "3", "--seconds", "5"],
        ["analytics.py", "--connections", "32", "--rounds", "1", "--seconds", "1"],
    ),
    (
        "One worker against two, SQLite (`workers.py`)",
        ["workers.py", "--rounds", "3", "--seconds", "5"],
        ["workers.py", "--rounds", "1", "--seconds", "1"],
    ),
    (
        "Many tenants (`tenants.py`)",
        ["tenants.py"],
        ["tenants.py", "--apps", "20", "--releases", "10", "--steps", "5", "--seconds", "1"],
    ),
    (
        "Publish to visible in another process, PostgreSQL (`visibility.py`)",
        ["visibility.py", "--db", "postgres"],
        ["visibility.py", "--db", "postgres", "--rounds", "3", "--per-publisher", "2"],
    ),
    (
        "Publish to visible in another process, SQLite (`visibility.py`)",
        ["visibility.py", "--db", "sqlite"],
        ["visibility.py", "--db", "sqlite", "--rounds", "3", "--per-publisher", "2"],
    ),
    (
        "Where an edge HIT's time goes (`profile.py`)",
        ["profile.py", "--case", "hit", "--top", "12"],
        ["profile.py", "--case", "hit", "--seconds", "1", "--top", "5"],
    ),
    (
        "Where a LICENSED app's HIT's time goes (`profile.py`)",
        ["profile.py", "--case", "licensed", "--top", "12"],
        ["profile.py", "--case", "licensed", "--seconds", "1", "--top", "5"],
    ),
    (
        "Where an origin check's time goes, edge off (`profile.py`)",
        ["profile.py", "--case", "origin", "--top", "12"],
        ["profile.py", "--case", "origin", "--seconds", "1", "--top", "5"],
    ),
    (
        "The console's heaviest pages (`console.py`)",
        ["console.py"],
        ["console.py", "--apps", "20", "--releases", "500", "--seconds", "1"],
    ),
    ("Command start-up (`startup.sh`)", ["startup.sh"], ["startup.sh"]),
]


def versions() -> str:
    found = []
    for name in VERSIONS:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    found.append((wrk.stdout or wrk.stderr).split(" [")[0].strip())
    return ", ".join(found)


def run(command: list[str]) -> str:
    script = BENCH / command[0]
    launcher = [sys.executable] if script.suffix == ".py" else ["bash"]
    done = subprocess.run(
        [*launcher, str(script), *command[1:]], capture_output=True, text=True, cwd=BENCH.parent
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    started, load = time.monotonic(), load_average()
    sections = []
    for title, full, quick in CASES:
        print(f"==> {title}", file=sys.stderr)
        sections.append(f"### {title}\n\n{run(quick if args.quick else full)}\n")
    minutes = (time.monotonic() - started) / 60
    head = (
        f"## Every benchmark, {datetime.date.today().isoformat()} (`bench/all.py`)\n\n"
        f"- machine: {machine()}\n- load average before: {load}; after: {load_average()}\n"
        f"- versions: {versions()}\n- wall time: {minutes:.0f} min\n"
    )
    generated = "\n".join([head, *sections])
    if args.quick:
        print(generated)
        return
    text = RESULTS.read_text()
    before, _, rest = text.partition(BEGIN)
    _, _, after = rest.partition(END)
    RESULTS.write_text(f"{before}{BEGIN}\n\n{generated}\n{END}{after or chr(10)}")
    print(f"wrote {RESULTS.relative_to(BENCH.parent)} in {minutes:.0f} min", file=sys.stderr)


if __name__ == "__main__":
    main()
