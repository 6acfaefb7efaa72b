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
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawler.claims import Page  # noqa: E402


def pdf_like() -> tuple[str, list[str]]:
    rng = random.Random(21)
    vocab = ("gobierno abierto compromiso medidores instalación participación ciudadana transparencia "
             "de la el en los que por con para acción plan México información pública datos").split()
    lines: list[str] = []
    size = 0
    while size < 2_000_000:
        line = " ".join(rng.choice(vocab) if rng.random() > 0.08 else f"{rng.randint(1, 99_999):,}"
                        for _ in range(rng.randint(6, 14)))
        lines.append(line)
        size += len(line) + 1
    pins = [" ".join(" ".join(lines[i:i + 2]).split()[2:12]) for i in (rng.randrange(len(lines) - 2) for _ in range(18))]
    pins += ["esta frase no figura en ningún lado", pins[0].replace(pins[0].split()[1], "alterada")]
    return "\n".join(lines), pins


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
    for name, build in (("2 MB PDF-like text, 20 pins", pdf_like), ("5 MB of one repeated word, 2 pins", one_word)):
        text, pins = build()
        mine = statistics.median(ours(text, pins) for _ in range(rounds))
        theirs = statistics.median(peer(text, pins) for _ in range(rounds))
        print(f"  {name:<34} {mine:>10.3f} {theirs:>10.3f} {mine / theirs:>6.1f}x")


if __name__ == "__main__":
    main()
