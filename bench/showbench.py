"""``evidence show`` on a 1 GB archive, and what a 1 GB body costs in memory.

    python bench/showbench.py --workdir DIR

DIR is a ``bench/perf.py`` work folder (its ``evidence/`` database and archive, 10,000
captures). This adds eight 100 MB files and one 1 GB file (cut at the 200 MB body cap)
to the same archive, served by nginx on 127.0.0.2, so the archive passes 1 GB; then it
times ``show`` of a small page captured before the big files: inside the process (find
the capture, seek to its stored offset, read and check the record) and as a whole
command (Python start-up and imports included). Medians of 7.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import corpus  # noqa: E402

PORT = 18081
BIG = 1024**3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, required=True)
    options = parser.parse_args()
    corpus.require_nginx()
    work: Path = options.workdir
    db, archive = work / "evidence" / "evidence.db", work / "evidence" / "archive"
    if not db.exists():
        raise SystemExit(f"{db} does not exist: run bench/perf.py --workdir {work} first")
    site = work / "bulk-site" / "127.0.0.2" / "bulk"
    site.mkdir(parents=True, exist_ok=True)
    for number in range(8):
        path = site / f"dataset-{number}.bin"
        if not path.exists() or path.stat().st_size != 100 * 2**20:
            path.write_bytes(os.urandom(100 * 2**20))
    huge = site / "huge.bin"
    if not huge.exists() or huge.stat().st_size != BIG:
        with open(huge, "wb") as out:
            for _ in range(BIG // 2**24):
                out.write(os.urandom(2**24))
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    with corpus.Nginx(work / "bulk-site", work / "nginx-bulk", 1, PORT, 0):
        # The 1 GB body alone first, so that its peak is its own; then the 100 MB files.
        for name, urls in (
            ("one 1 GB body (cut at the 200 MB cap)", [f"http://127.0.0.2:{PORT}/bulk/huge.bin"]),
            ("8 x 100 MB bodies, 2 at a time", [f"http://127.0.0.2:{PORT}/bulk/dataset-{n}.bin" for n in range(8)]),
        ):
            bulk = work / "bulk-urls.txt"
            bulk.write_text("\n".join(urls) + "\n")
            process = subprocess.Popen(
                # Whole bodies every time: a second run of this script would otherwise get
                # 304s and revisits, and measure nothing.
                [sys.executable, "-m", "cli", "crawl", str(bulk), "--db", str(db), "--archive", str(archive),
                 "--allow-private", "-q", "-s", "EVIDENCE_CONDITIONAL_REQUESTS=False", "-s", "EVIDENCE_DEDUPLICATE=False"],
                cwd=HERE.parent, env=env,
            )
            _, status, usage = os.wait4(process.pid, 0)
            print(f"crawl of {name}: peak RSS {usage.ru_maxrss / 1024:.0f} MB "
                  f"({usage.ru_maxrss / 1024 / 200:.2f}x the 200 MB cap), exit {os.waitstatus_to_exitcode(status)}")
    size = sum(path.stat().st_size for path in archive.rglob("*.warc*"))
    print(f"archive: {size / 2**30:.2f} GiB in {len(list(archive.rglob('*.warc*')))} files")

    page = (work / "urls.txt").read_text().split()[-1]
    inner = (
        "import sys, time; from pathlib import Path\n"
        "from crawler.store.db import open_database\n"
        "from crawler.reports.queries import snapshot_capture\n"
        "from crawler.warc.snapshots import load_snapshot\n"
        f"sessions = open_database({str(db)!r}, create=False)\n"
        "times = []\n"
        "for _ in range(7):\n"
        "    start = time.perf_counter()\n"
        f"    capture = snapshot_capture(sessions, {page!r}, None)\n"
        f"    body = load_snapshot(Path({str(archive)!r}), capture, decode=True).body\n"
        "    times.append((time.perf_counter() - start) * 1000)\n"
        "print(sorted(times)[3], len(body))\n"
    )
    first = subprocess.run([sys.executable, "-c", inner], cwd=HERE.parent, env=env, capture_output=True, text=True, check=True)
    inside, length = first.stdout.split()
    walls = []
    for _ in range(7):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cli", "show", page, "--db", str(db), "--archive", str(archive), "-o", os.devnull],
                       cwd=HERE.parent, env=env, capture_output=True, check=True)
        walls.append((time.perf_counter() - start) * 1000)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import click, sqlalchemy"], check=True)
    floor = (time.perf_counter() - start) * 1000
    print(f"show {page} ({length} bytes) from the {size / 2**30:.2f} GiB archive:")
    print(f"  inside the process (query, seek to the stored offset, read, check digest, decode): {float(inside):.1f} ms"
          f" (target < 50 ms: {'met' if float(inside) < 50 else 'MISSED'})")
    print(f"  the whole command: {statistics.median(walls):.0f} ms, of which starting Python and importing click "
          f"and SQLAlchemy alone take {floor:.0f} ms")


if __name__ == "__main__":
    main()
