"""Item pipeline that judges each capture and records it in the evidence database.

The WARC recorder has already written and synced the records an item points at,
so committing here, one capture per transaction, never leaves a row that points at
bytes not on disk.
"""

from __future__ import annotations

import logging
from datetime import timezone
from typing import TYPE_CHECKING

from scrapy.exceptions import NotConfigured
from sqlalchemy import select

from crawler.db import open_database
from crawler.models import Capture, Record, Target
from crawler.spiders.citations import CaptureItem
from crawler.verdicts import Facts, Previous, judge

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)


class EvidencePipeline:
    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.run_id = settings.getint("EVIDENCE_RUN_ID")
        if not self.run_id:
            raise NotConfigured("EVIDENCE_RUN_ID is not set: captures have no run to belong to")
        self.sessions = open_database(settings.get("EVIDENCE_DB_URL"), create=False)
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> EvidencePipeline:
        return cls(crawler)

    def process_item(self, item: CaptureItem, spider: Spider | None = None) -> CaptureItem:
        with self.sessions() as session, session.begin():
            capture = self._capture(session, item)
            session.add(capture)
        self.stats.inc_value(f"evidence/state/{capture.state}")
        logger.info("%s %s (%s)", capture.state, item.url, capture.reason)
        return item

    def _capture(self, session: Session, item: CaptureItem) -> Capture:
        target = session.scalar(select(Target).where(Target.url == item.url))
        if target is None:
            target = Target(url=item.url)
            session.add(target)
            session.flush()
        last = item.hops[-1] if item.hops else None
        capture = Capture(
            run_id=self.run_id,
            target_id=target.id,
            checked_at=item.checked_at.astimezone(timezone.utc).replace(tzinfo=None),
            http_status=last.status if last else None,
            final_url=last.url if last else None,
            redirect_chain=[{"url": hop.url, "status": hop.status} for hop in item.hops],
            content_type=last.content_type if last else None,
            content_length=last.body_length if last else None,
            payload_digest=last.payload_digest if last else None,
            truncated=last.truncated if last else None,
            error_kind=item.error_kind,
            error=item.error,
            warc_filename=last.response.filename if last else None,
            warc_offset=last.response.offset if last else None,
            warc_length=last.response.length if last else None,
        )
        for position, hop in enumerate(item.hops):
            for offset, (kind, where) in enumerate((("response", hop.response), ("request", hop.request))):
                capture.records.append(
                    Record(
                        position=2 * position + offset,
                        record_type=kind,
                        record_id=where.record_id,
                        target_uri=hop.url,
                        http_status=hop.status if kind == "response" else None,
                        payload_digest=hop.payload_digest if kind == "response" else None,
                        truncated=hop.truncated if kind == "response" else None,
                        filename=where.filename,
                        offset=where.offset,
                        length=where.length,
                    )
                )
        facts = Facts(
            cited_url=item.url,
            http_status=capture.http_status,
            final_url=capture.final_url,
            payload_digest=capture.payload_digest,
            truncated=capture.truncated,
            error_kind=item.error_kind,
            redirected=any(300 <= hop.status < 400 for hop in item.hops[:-1]),
        )
        verdict = judge(facts, self._previous(session, target.id))
        capture.state, capture.reason = verdict.state, verdict.reason
        return capture

    def _previous(self, session: Session, target_id: int) -> Previous | None:
        """The last capture of this target in an earlier run that archived a page."""
        row = session.execute(
            select(Capture.state, Capture.payload_digest, Capture.final_url)
            .where(
                Capture.target_id == target_id,
                Capture.run_id != self.run_id,
                Capture.state.in_(("ok", "changed")),
            )
            .order_by(Capture.checked_at.desc(), Capture.id.desc())
            .limit(1)
        ).first()
        return Previous(*row) if row else None
