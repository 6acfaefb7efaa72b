"""The collector's pace during a crawl is set for the crawl only."""

from __future__ import annotations

import gc

import pytest

from crawler.runs.gctuning import CRAWL_THRESHOLD, crawl_pace


def test_crawl_pace_freezes_what_exists_and_puts_everything_back():
    before = gc.get_threshold()
    loaded_at_start = [[] for _ in range(1000)]
    with crawl_pace():
        assert gc.get_threshold() == CRAWL_THRESHOLD
        made_during: list[list[int]] = [[]]
        # Frozen objects are out of every generation the collector scans.
        scanned = {id(item) for item in gc.get_objects()}
        assert id(loaded_at_start) not in scanned
        assert id(made_during) in scanned
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    assert id(loaded_at_start) in {id(item) for item in gc.get_objects()}


def test_crawl_pace_puts_everything_back_after_a_failure():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), crawl_pace():
        raise RuntimeError("the crawl failed")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
