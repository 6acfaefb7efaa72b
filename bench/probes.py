"""What the soft-404 probe costs a small crawl: evidence with the probe on and off, and one wget.

    python bench/probes.py                    # 20 hosts x 20 pages, 100 ms answers, 3 rounds

The shape of a report citing a few pages on each of a few sites: every page is HTML under
a last path segment with dots that are not an extension (``/page/127.0.0.2-8``,
``/docs/v1.8-final``, see ``corpus.build_pages``), so the probes (random siblings, one per
URL shape and host) are answered 404 by nginx, after the same latency as the pages. The
hosts, nginx and the contenders' accounting are ``bench/perf.py``'s; contenders run one
after another in an order that rotates each round, each figure is the median of the rounds.
Target: evidence with the probe on at least 10x one wget process (URLs/s).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402
import perf  # noqa: E402

PORT = 18082
PROBE_OFF = "EVIDENCE_PROBE_ENABLED=False"


def probes_made(folder: Path, wanted: set[str]) -> int:
    """Responses archived for URLs that were not cited: the probes."""
    counts = perf.count_records(folder, wanted)
    return counts.get("response", 0) + counts.get("revisit", 0) - counts["urls archived"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--pages", type=int, default=20, help="pages per host")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--workdir", type=Path, default=None)
    options = parser.parse_args()
    corpus.require_nginx()
    work = options.workdir or Path(tempfile.mkdtemp(prefix="evidence-probes-"))
    work.mkdir(parents=True, exist_ok=True)
    built = corpus.build_pages(work / "site", options.hosts, options.pages, PORT)
    urls = built.urls
    urls_file = work / "urls.txt"
    urls_file.write_text("\n".join(urls) + "\n")
    wanted = set(urls)
    print(f"corpus: {len(urls)} URLs ({options.pages} pages on each of {options.hosts} hosts), "
          f"server latency {options.latency_ms} ms, concurrency {options.concurrency} (2 per host), "
          f"median of {options.runs} rounds, order rotating; in {work}")

    contenders = ["probe on", "probe off", "wget x1"]
    rounds: dict[str, list[perf.Result]] = {name: [] for name in contenders}
    probes: dict[str, int] = {}
    with corpus.Nginx(work / "site", work / "nginx", options.hosts, PORT, options.latency_ms):
        for number in range(options.runs):
            for name in contenders[number % 3:] + contenders[: number % 3]:
                if name == "wget x1":
                    result = perf.run_wget(work, urls, 1)
                else:
                    settings = [PROBE_OFF] if name == "probe off" else []
                    result, _ = perf.run_evidence(work, urls_file, len(urls), options.concurrency, False, settings=settings)
                    probes[name] = probes_made(perf.evidence_folder(work, 1) / "archive", wanted)
                rounds[name].append(result)
                print(f"  round {number + 1}: {name} {result.wall:.1f} s", file=sys.stderr)
    medians = {name: perf.median(results) for name, results in rounds.items()}
    wget = medians["wget x1"]
    print(f"  {'contender':<22} {'URLs/s':>9} {'CPU ms/URL':>8} {'peak MB*':>9} {'WARC KB/URL':>9} {'wall s':>8}"
          f"  vs wget x1  probes (last round)")
    for name, result in medians.items():
        made = f"{probes[name]} ({probes[name] / options.hosts:.1f} per host)" if name in probes else ""
        print(perf.show_row(f"evidence, {name}" if name in probes else name, result)
              + f"  {result.rate / wget.rate:8.2f}x  {made}")
    on, off = medians["probe on"], medians["probe off"]
    print(f"  probe on / probe off: URLs/s {on.rate / off.rate:.2f}x")
    print("targets:")
    print(perf.verdict("probe on, evidence / one wget (URLs/s)", on.rate / wget.rate, 10, at_least=True))


if __name__ == "__main__":
    main()
