"""A rendered crawl beside the plain one (issue 22): N pages built by JavaScript, crawled
with ``--browser always`` and with ``--browser never``, each into a fresh workspace.

The site is tests/jssite.py on 127.0.0.1 (in this process, threaded): every page is the
same shell whose script fetches its text from a JSON endpoint, so a rendered page costs
three exchanges (shell, script, JSON) plus the browser's work, and a plain one one.
Printed per mode: pages per second (wall clock of the whole ``evidence crawl`` process,
start-up included), the CPU seconds of the process tree, and the peak memory of the whole
process tree (the crawl and every Chromium process under it), sampled from ``/proc`` every
25 ms as the sum of RSS (shared pages counted once per process, as ``top`` would) and of
PSS (shared pages divided among the processes sharing them: what the tree really holds).
Then rendered vs plain as ratios. Run by hand from the repository root:

    python bench/browserbench.py [N] [--rounds R] [--keep DIR] [-s NAME=VALUE ...]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import FAST, ROOT, Workspace  # noqa: E402
from tests.jssite import JsSite  # noqa: E402


def tree(root: int) -> list[int]:
    """``root`` and every process under it, now."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        try:
            for task in Path(f"/proc/{pid}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue  # it ended meanwhile
    return found


def memory_mb(pids: list[int]) -> tuple[float, float]:
    """Summed RSS and PSS (MB) of ``pids``, from smaps_rollup."""
    rss = pss = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return rss / 1024, pss / 1024


class Peak:
    """The largest summed RSS and PSS of a process tree, sampled every 25 ms; and the most
    processes seen at once."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.rss = self.pss = 0.0
        self.processes = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._done.wait(0.025):
            pids = tree(self.root)
            rss, pss = memory_mb(pids)
            self.rss, self.pss = max(self.rss, rss), max(self.pss, pss)
            self.processes = max(self.processes, len(pids))

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


@dataclass
class Result:
    mode: str
    pages: int
    wall: float
    cpu: float
    rss: float
    pss: float
    processes: int
    rendered: int

    @property
    def rate(self) -> float:
        return self.pages / self.wall


def crawl(workspace: Workspace, document: Path, mode: str, settings: list[str]) -> Result:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    extra = [arg for setting in settings for arg in ("-s", setting)]
    command = [sys.executable, str(ROOT / "cli.py"), "crawl", *FAST, *extra, str(document), "--browser", mode]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=workspace.path, env=workspace.env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    peak = Peak(process.pid)
    _, errors = process.communicate()
    wall = time.perf_counter() - started
    peak.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode not in (0, 1):
        sys.exit(f"crawl --browser {mode} exited {process.returncode}: {errors[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with sqlite3.connect(workspace.db) as db:
        pages, rendered = db.execute(
            "SELECT count(*), count(*) FILTER (WHERE render IN ('rendered', 'capped')) FROM captures"
        ).fetchone()
    return Result(mode, pages, wall, cpu, peak.rss, peak.pss, peak.processes, rendered)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", type=int, nargs="?", default=200)
    parser.add_argument("--rounds", type=int, default=1, help="alternate the two modes this many times each")
    parser.add_argument("--keep", type=Path, help="keep the workspaces here")
    parser.add_argument("-s", "--set", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for both crawls (e.g. EVIDENCE_BROWSER_CONCURRENCY=4)")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="browserbench-"))
    folder.mkdir(parents=True, exist_ok=True)
    results: list[Result] = []
    with JsSite() as site:
        for n in range(args.n):
            site.pages[f"/app/informes/{n}"] = {
                "title": f"Informe trimestral {n}",
                "paragraphs": [f"El programa {n} atendió a {100 + n} comunidades en el trimestre.",
                               f"Se ejercieron {n * 3 + 7} millones de pesos de un presupuesto aprobado."],
            }
        document = folder / "informe.md"
        document.write_text("".join(f"{n + 1} Ver {site.url(f'/app/informes/{n}')}\n" for n in range(args.n)),
                            encoding="utf-8")
        for round_ in range(args.rounds):
            for mode in (("always", "never") if round_ % 2 == 0 else ("never", "always")):
                workspace = Workspace(folder / f"{mode}-{round_}")
                shutil.rmtree(workspace.path, ignore_errors=True)
                workspace.path.mkdir(parents=True)
                result = crawl(workspace, document, mode, args.settings)
                results.append(result)
                print(f"round {round_ + 1} {mode:>6}: {result.pages} pages in {result.wall:.1f} s, "
                      f"{result.rendered} rendered", flush=True)
    print(f"\n{args.n} pages of a JavaScript shell on 127.0.0.1; {os.cpu_count()} cores; medians of {args.rounds} round(s)")
    print(f"  {'mode':<8} {'pages/s':>8} {'CPU s':>7} {'peak RSS MB':>12} {'peak PSS MB':>12} {'processes':>10}")
    medians = {}
    for mode in ("always", "never"):
        mine = sorted((r for r in results if r.mode == mode), key=lambda r: r.rate)
        middle = mine[len(mine) // 2]
        medians[mode] = middle
        print(f"  {mode:<8} {middle.rate:8.1f} {middle.cpu:7.1f} {middle.rss:12.0f} {middle.pss:12.0f} {middle.processes:10d}")
    rendered, plain = medians["always"], medians["never"]
    print(f"  rendered/plain: pages/s {rendered.rate / plain.rate:.2f}x, CPU {rendered.cpu / plain.cpu:.1f}x, "
          f"peak RSS {rendered.rss / plain.rss:.1f}x, peak PSS {rendered.pss / plain.pss:.1f}x")
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
