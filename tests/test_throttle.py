"""A 304 lowers a host's delay as a 200 does, and an error still never lowers it."""

from __future__ import annotations

import pytest
from scrapy.core.downloader import Slot
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from crawler import settings as evidence_settings
from crawler.crawl.throttle import NotModifiedAwareAutoThrottle


def throttle() -> NotModifiedAwareAutoThrottle:
    values = {name: getattr(evidence_settings, name) for name in dir(evidence_settings) if name.isupper()}
    extension = NotModifiedAwareAutoThrottle(get_crawler(settings_dict=values))
    # set by the extension when the crawl opens, from DOWNLOAD_DELAY and the settings
    extension.mindelay, extension.maxdelay = 0.0, evidence_settings.AUTOTHROTTLE_MAX_DELAY
    return extension


@pytest.mark.parametrize(("status", "lowered"), [(200, True), (304, True), (404, False), (503, False)])
def test_fast_answers_lower_the_delay_only_when_healthy(status: int, lowered: bool) -> None:
    slot = Slot(concurrency=2, delay=1.0, jitter=0)
    throttle()._adjust_delay(slot, 0.01, Response("http://127.0.0.1/a", status=status))
    assert (slot.delay < 1.0) is lowered


def test_it_replaces_scrapys_autothrottle_in_the_settings() -> None:
    from crawler.runs.lifecycle import build_settings

    active = {name for name, order in build_settings({}).getwithbase("EXTENSIONS").items() if order is not None}
    assert "crawler.crawl.throttle.NotModifiedAwareAutoThrottle" in active
    assert "scrapy.extensions.throttle.AutoThrottle" not in active
    # Switched off by not being named at all: Scrapy imports every extension it is given.
    assert "scrapy.extensions.remote_control.RemoteControl" not in build_settings({}).getwithbase("EXTENSIONS")
