"""Three kill -9s at random moments (between records, inside a multi-megabyte record,
during a commit): each time the next run completes, verify passes, and no row points at
missing or partial bytes. `bench/killtest.py` does the same twenty times."""

from __future__ import annotations

import random

from tests.conftest import Workspace
from tests.killing import check_after_kill, kill_at_random, write_report
from tests.mockserver import MockServer


def test_three_random_kills(workspace: Workspace, site: MockServer):
    rng = random.Random(20181127)
    doc = write_report(workspace, site, 40)
    for _ in range(3):
        kill_at_random(workspace, doc, rng, (0.3, 3.0))
        check_after_kill(workspace, doc)
