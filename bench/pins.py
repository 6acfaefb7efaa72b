"""Pinned passages looked for in long texts: ``crawler.claims.Page`` against a plain
substring search over the same lower-cased text, in the same run.

Two cases, as the tests hold them for correctness (tests/test_claims_match.py):
a 2 MB PDF-like text (a small vocabulary, numbers with thousands separators) with twenty
pins (eighteen present, one absent, one with a word altered), and a 5 MB page of one word
repeated (the worst case for any index of word sequences). Printed: seconds per case for
evidence (building the page's index and every search) and for ``str.find``, the peer, which
only answers "present or not" for an exact passage, and their ratio. Run by hand:

    python bench/pins.py [--rounds R]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawler.claims import Page  # noqa: E402
from tests.test_claims_match import pdf_like_text  # noqa: E402


def one_word() -> tuple[str, list[str]]:
    return "palabra " * 650_000, ["palabra palabra palabra", "otra cosa con palabra distinta"]


def ours(text: str, pins: list[str]) -> float:
    started = time.perf_counter()
    page = Page(text)
    for pin in pins:
        page.find(pin)
    return time.perf_counter() - started


def peer(text: str, pins: list[str]) -> float:
    started = time.perf_counter()
    flat = " ".join(text.lower().split())
    for pin in pins:
        flat.find(" ".join(pin.lower().split()))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    print(f"pinned passages; medians of {rounds} rounds")
    print(f"  {'case':<34} {'evidence s':>10} {'str.find s':>10} {'ratio':>7}")
    for name, build in (("2 MB PDF-like text, 20 pins", pdf_like_text), ("5 MB of one repeated word, 2 pins", one_word)):
        text, pins = build()
        mine = statistics.median(ours(text, pins) for _ in range(rounds))
        theirs = statistics.median(peer(text, pins) for _ in range(rounds))
        print(f"  {name:<34} {mine:>10.3f} {theirs:>10.3f} {mine / theirs:>6.1f}x")


if __name__ == "__main__":
    main()
