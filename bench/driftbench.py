"""Time `status --json` on a database of N cited URLs that each have a found memento
(issue 20: drift since citation re-extracting text from the WARC on every call).

Built with a real crawl: N pages of a scripted site on 127.0.0.1 (tests/opensite.py),
each archived once in "2017" by pywb on 127.0.0.1 (tests/webarchive.py's writer), cited
with an access date in one Markdown document, crawled once with ``--archives``. A first
capture's fingerprint is deferred, so every row's drift needs its text resolved. Then
``status --json`` is run in this process (``cli.main``) several times, timed, and the
first call profiled. Run by hand from the repository root:

    python bench/driftbench.py [N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import webarchive  # noqa: E402
from tests.conftest import Workspace  # noqa: E402
from tests.opensite import OpenSite  # noqa: E402
from tests.tools import Wayback, tool  # noqa: E402


def body(n: int) -> bytes:
    words = " ".join(f"palabra{n}-{i}" for i in range(200))
    return webarchive._page(f"Informe {n}", f"Texto del informe {n}: {words}.")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", type=int, nargs="?", default=500)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the workspace here")
    parser.add_argument("--calls", type=int, default=3)
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="driftbench-"))
    folder.mkdir(parents=True, exist_ok=True)
    workspace = Workspace(folder)
    bodies = [body(n) for n in range(args.n)]
    with OpenSite() as site:
        for n, page in enumerate(bodies):
            site.page(f"/informes/{n}", lambda _count, b=page: (200, "text/html; charset=utf-8", b))
        if not workspace.db.exists():
            captures = tuple(
                webarchive.Capture(f"/informes/{n}", webarchive._at("2017-03-01 10:00:00"), 200, bodies[n])
                for n in range(args.n)
            )
            pywb = folder / "pywb"
            pywb.mkdir()
            warc = pywb / "site-2017.warc.gz"
            webarchive.write_warc(warc, site.url(""), captures)
            for cmd in (["init", "web"], ["add", "web", str(warc)]):
                subprocess.run([tool("wb-manager"), *cmd], cwd=pywb, check=True, capture_output=True)
            document = folder / "informe.md"
            cited = date(2017, 3, 15)
            marks = "".join(f"[^{n}]" for n in range(1, args.n + 1))
            notes = "\n".join(
                f"[^{n + 1}]: {site.url(f'/informes/{n}')} (accessed March {cited.day}, {cited.year})" for n in range(args.n)
            )
            document.write_text(f"El informe{marks}.\n\n{notes}\n", encoding="utf-8")
            with Wayback(pywb) as wayback:
                started = time.perf_counter()
                done = workspace.crawl(str(document), "--archives", f"http://127.0.0.1:{wayback.port}/web/")
                print(f"crawl of {args.n} cited URLs with lookups: {time.perf_counter() - started:.1f} s, exit {done.returncode}")
                if done.returncode not in (0, 1):
                    sys.exit(done.stderr)
        times = []
        for call in range(args.calls):
            profile = cProfile.Profile() if call == 0 else None
            started = time.perf_counter()
            if profile:
                profile.enable()
            result = workspace.run("status", "--json")
            if profile:
                profile.disable()
            times.append(time.perf_counter() - started)
            assert result.returncode == 0, result.stderr
            if profile:
                out = io.StringIO()
                pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(18)
                print(out.getvalue())
        import json

        verdicts = json.loads(result.stdout)
        print("since_citation:", {v: sum(r["since_citation"] == v for r in verdicts) for v in ("same", "changed", "gone", "unknown")})
        print("status --json, in process:", ", ".join(f"{t * 1000:.0f} ms" for t in times))
    if args.keep is None:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
