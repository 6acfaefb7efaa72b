"""kill -9 a crawl at random moments, then check that the next run completes, `evidence
verify` passes and no database row points at missing or partial bytes.

Run by hand (it takes minutes):  python bench/killtest.py --kills 20 --urls 300
Everything runs against a scripted site on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import Workspace  # noqa: E402
from tests.killing import check_after_kill, kill_at_random, write_report  # noqa: E402
from tests.mockserver import MockServer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--urls", type=int, default=300)
    parser.add_argument("--seed", type=int, default=None)
    options = parser.parse_args()
    seed = options.seed if options.seed is not None else int(time.time())
    rng = random.Random(seed)
    workspace = Workspace(Path(tempfile.mkdtemp(prefix="killtest-")))
    print(f"killtest: {options.kills} kills over {options.urls} URLs, seed {seed}, in {workspace.path}")
    with MockServer() as site:
        doc = write_report(workspace, site, options.urls)
        for number in range(1, options.kills + 1):
            delay = kill_at_random(workspace, doc, rng, (0.2, 6.0))
            check_after_kill(workspace, doc)
            print(f"kill {number:2d} after {delay:.2f} s: next run finished, verify passed, every row whole")
    print(f"killtest passed: {options.kills} of {options.kills} kills left nothing lost or faked")


if __name__ == "__main__":
    main()
