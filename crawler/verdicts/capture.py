"""Judging one capture: a recorded exchange and its target's past in, the capture's
fingerprint, signals and verdict out.

``CaptureJudge`` holds what a crawl learns as it goes, per target: the noise in force
(text that differs between two answers seconds apart), and earlier captures' fingerprints
re-made under the rules in force. It writes no rows and no WARC records: the pipeline
(``crawler/crawl/pipeline.py``) records what it returns, and rewrites earlier rows
through the ``Rebase`` it hands in.

A page rendered in the browser (``item.rendered``, crawler/browser/) is judged on its
rendered DOM, through the same extractor as any HTML page: its fingerprints, soft-404
signals and pinned passages come from what a person sees, never from the shell of HTML the
server sent (which an application answers the same for every path). So the shortcuts that
rest on the shell's bytes do not apply to it: a shell byte-identical to last time says
nothing of what the script built. To learn its noise a rendered page is rendered a second
time, not merely fetched (see ``worth_a_second_fetch``).

Like is compared with like. A rendered capture is compared with the last good capture's
rendered DOM (read back from its ``urn:dom:`` record when the rules changed), and an
unrendered one with an unrendered one. Where the last good capture was taken the other way
(the first run had no Chromium, say, or rendering was switched off), the two are compared on
what both have, the HTML the server sent, and the capture carries the signal
``render_started`` or ``render_stopped``: rendering changed, which by itself is not a change
of the page. A render that failed is judged on the HTML, with the signal ``render_failed``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from crawler.browser.model import CAPPED, Rendered
from crawler.exceptions import ArchiveError
from crawler.store.models import Capture
from crawler.verdicts.fingerprint import (
    Meaning,
    Noise,
    as_bytes,
    basis_of,
    bytes_fingerprint,
    is_current,
    is_deferred,
    meaning,
    text_fingerprint,
)
from crawler.verdicts.rules import Facts, History, Verdict, judge
from crawler.verdicts.soft404 import ProbeAnswer, signals
from crawler.warc.rendered import DOM_CONTENT_TYPE
from crawler.warc.snapshots import judged_payload

if TYPE_CHECKING:
    from crawler.crawl.history import Good, TargetHistory
    from crawler.crawl.spider import CaptureItem, Fetched
    from crawler.warc.recorder import Hop

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class Earlier:
    """An earlier capture's fingerprints under the rules in force."""

    fingerprint: str
    boilerplate: str | None
    basis: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class Judgement:
    """What a capture's row records of its judging."""

    fingerprint: str | None
    basis: str | None
    boilerplate: str | None
    signals: list[str]
    #: the body's cut (``max_body``, ``length``... as recorded, or ``encoding``: the
    #: content coding ends mid-stream)
    truncated: str | None
    state: str
    reason: str
    change: str | None
    #: whether its meaning differs from the first good capture's (what was cited); only
    #: for a capture judged present
    differs_from_first: bool | None
    #: the page as extracted for this judgement, if it was (not when its bytes were the
    #: previous capture's): pinned passages are looked for in its text
    page: Meaning | None = None


#: An earlier good capture of the target under the rules in force with the noise given
#: (None: its payload cannot be read back). The pipeline's also rewrites the earlier rows.
Rebase = Callable[["Good", Noise], "Earlier | None"]

_TEXT_KINDS = frozenset({"html", "pdf"})
#: what a rendered DOM is (``page.content()``, serialized as UTF-8 HTML), as its record says
DOM_TYPE = DOM_CONTENT_TYPE


def rendered_of(item: Fetched) -> Rendered | None:
    """The render a capture (or probe) is judged on: one that produced a DOM, else None
    (not rendered, or the render failed: judged on the HTML)."""
    rendered = item.rendered
    return rendered if rendered is not None and rendered.ok else None


def dom_meaning(rendered: Rendered, when: datetime | None, noise: Noise | None = None) -> Meaning:
    """The meaning of a rendered page: its DOM through the HTML extractor, never deferred
    (the render cost far more than the extraction)."""
    return meaning(rendered.dom, DOM_TYPE, None, when, noise=noise)


def is_present(last: Hop | None) -> bool:
    """The last hop archived the page: a 2xx, or a 304 to our conditional request, which
    says the page is the archived original."""
    return last is not None and (200 <= last.status < 300 or last.record_type == "revisit" and last.status == 304)


class CaptureJudge:
    """Judges the captures of one crawl (``judge``), learning noise on the way
    (``worth_a_second_fetch``, ``learn_noise``)."""

    def __init__(self, archive_dir: Path, *, gone_after: int, count: Callable[[str], None] | None = None) -> None:
        self.archive_dir = archive_dir
        self.gone_after = gone_after
        # What happened, by name (``evidence/text/...``, ``evidence/noise/learned``): Scrapy's stats.
        self.count = count or (lambda name: None)
        # (target id, fingerprint, basis, noise size, from its shell) of an earlier capture
        # -> its fingerprints under the rules in force, None if its payload is unreadable
        self._rebased: dict[tuple[int, str, str | None, int, bool], Earlier | None] = {}
        # Per target: the noise in force, and the targets whose noise grew this crawl.
        self._noise: dict[int, Noise] = {}
        self._noise_grew: set[int] = set()
        # Per URL: its page as judged before the second fetch (not extracted twice).
        self._prepared: dict[str, Meaning] = {}
        # URLs whose second fetch taught something this crawl (signal ``noise_learned``).
        self._learned: set[str] = set()

    def noise_of(self, history: TargetHistory) -> Noise:
        noise = self._noise.get(history.target_id)
        if noise is None:
            noise = self._noise[history.target_id] = Noise(history.noise or ())
        return noise

    def grown_noise(self, target_id: int) -> Noise | None:
        """The target's noise, once, if this crawl learned more of it: to be kept for later runs."""
        if target_id not in self._noise_grew:
            return None
        self._noise_grew.discard(target_id)
        return self._noise[target_id]

    def judge(
        self, item: CaptureItem, history: TargetHistory, probe: ProbeAnswer | None, rebase: Rebase | None = None,
        *, keep_text: bool = False,
    ) -> Judgement:
        """Judge ``item`` against ``history``; ``probe`` is the soft-404 probe's answer for
        its URL shape, and ``rebase`` re-makes an earlier capture's fingerprints under the
        rules in force (default: ``earlier``, rewriting nothing). With ``keep_text`` (a URL
        with pinned passages) a first capture's text is extracted, not deferred."""
        if rebase is None:
            def rebase(good: Good, noise: Noise) -> Earlier | None:
                return self.earlier(item.url, history.target_id, good, noise)

        last = item.hops[-1] if item.hops else None
        fingerprint: str | None = None
        basis: str | None = None
        boilerplate: str | None = None
        found: list[str] = []
        truncated = last.truncated if last else None

        previous = history.previous
        noise = self.noise_of(history)
        rendered = rendered_of(item)
        # Whether the last good capture was judged the way this one is (both on a rendered
        # DOM, or both on the HTML); if not, the two are compared on their HTML (module docstring).
        alike = previous is None or previous.rendered == (rendered is not None)
        page = None
        # What the verdict compares: fingerprints under the rules in force only, never a
        # deferred one or one made by another extractor or with other noise (below).
        judged = None
        last_good = previous.fingerprint if previous else None
        last_boilerplate = previous.boilerplate if previous else None
        present = is_present(last)
        if last is not None and present:
            # Bytes identical to the last good capture mean the same text: no need to
            # extract it again, and no content signal can fire that did not fire then.
            # Not for a rendered page: the shell's bytes say nothing of what its script built.
            same_bytes = (
                rendered is None and previous is not None and not previous.rendered
                and previous.payload_digest == last.payload_digest
            )
            if rendered is not None:
                # As extracted for the second render, with what it taught (learn_noise).
                page = self._prepared.pop(item.url, None) or dom_meaning(rendered, item.checked_at, noise)
                self.count("evidence/text/rendered")
                fingerprint, boilerplate, basis = page.fingerprint, page.boilerplate_fingerprint, page.basis
            elif same_bytes and previous is not None:
                fingerprint, basis, boilerplate = previous.fingerprint, previous.basis, previous.boilerplate
            else:
                page = self._prepared.pop(item.url, None)
                if page is None:
                    # Text only tells something once there are other bytes to compare it
                    # with: with no earlier good capture, it is extracted later, if ever
                    # (crawler/verdicts/fingerprint.py). Unless a probe answered with a page
                    # of the same kind, whose text the soft-404 signals compare with this one's.
                    defer = _deferrable(probe) if previous is None and not keep_text else frozenset()
                    page = meaning(item.body, last.content_type, item.content_encoding, item.checked_at, defer=defer, noise=noise)
                if is_deferred(page.fingerprint):
                    self.count(f"evidence/text/deferred/{page.kind}")
                fingerprint, boilerplate = page.fingerprint, page.boilerplate_fingerprint
                basis = None if is_deferred(page.fingerprint) else page.basis
            found = signals(
                item.url,
                [(hop.url, hop.status) for hop in item.hops if not _retried(hop, item.hops)],
                last.content_type,
                previous.content_type if previous else None,
                page,
                probe,
                item.checked_at,
                rendered=rendered is not None,
            )
            judged = fingerprint
            judged_boilerplate = boilerplate
            if previous is not None and not alike:
                found.append("render_started" if rendered is not None else "render_stopped")
                judged, judged_boilerplate, last_good, last_boilerplate, unreadable = self._on_the_html(
                    item, history.target_id, previous, noise, rebase,
                )
                if unreadable:
                    found = [*found, "previous_unreadable"]
            elif previous is not None and not same_bytes and not is_current(previous.fingerprint, previous.basis, noise):
                earlier = rebase(previous, noise)
                if earlier is not None:
                    last_good, last_boilerplate = earlier.fingerprint, earlier.boilerplate
                else:
                    # The earlier text is out of reach: compare the bytes rather than
                    # calling the capture unchanged (or changed) on no evidence.
                    last_good, last_boilerplate = as_bytes(previous.fingerprint or ""), None
                    if not last_good.startswith("bytes:"):
                        last_good = "bytes:sha256:unreadable"
                    judged = bytes_fingerprint(item.body, item.content_encoding)
                    found = [*found, "previous_unreadable"]
            if item.url in self._learned:
                found = [*found, "noise_learned"]
        else:
            judged_boilerplate = boilerplate
        if item.rendered is not None:
            found = [*found, *_render_signals(item.rendered)]

        if last is not None and last.certificate is not None:
            found = [*found, *(f"tls_{p}" for p in last.certificate.problems)]
        found = [*found, *sorted({signal for hop in item.hops for signal in hop.signals})]
        if page is not None and not truncated and page.coding == "cut":
            truncated = "encoding"
            found = [*found, "content_coding_cut"]
        elif page is not None and page.coding == "bomb":
            found = [*found, "decompression_bomb"]

        facts = Facts(
            cited_url=item.url,
            http_status=200 if present else (last.status if last else None),
            final_url=last.url if last else None,
            truncated=truncated,
            error_kind=item.error_kind,
            redirected=any(300 <= hop.status < 400 for hop in item.hops[:-1]),
            payload_digest=last.payload_digest if last else None,
            fingerprint=judged,
            signals=tuple(found),
            boilerplate=judged_boilerplate,
        )
        past = History(
            last_good_fingerprint=last_good,
            last_good_payload_digest=previous.payload_digest if previous else None,
            recent=list(history.recent),
            last_good_boilerplate=last_boilerplate,
        )
        verdict = judge(facts, past, gone_after=self.gone_after)
        if rendered is not None and alike and previous is not None and last is not None:
            verdict = _rendered_change(verdict, boilerplate, last_boilerplate, last, previous)
        differs = None
        if verdict.state in ("ok", "changed"):
            differs = self._differs_from_first(item, history, fingerprint, basis, noise, rebase, rendered is not None)
        return Judgement(
            fingerprint=fingerprint, basis=basis, boilerplate=boilerplate, signals=found, truncated=truncated,
            state=verdict.state, reason=verdict.reason, change=verdict.change, differs_from_first=differs, page=page,
        )

    def _differs_from_first(
        self, item: CaptureItem, history: TargetHistory, mine: str | None, basis: str | None, noise: Noise, rebase: Rebase,
        rendered: bool = False,
    ) -> bool:
        """Whether this capture's meaning differs from that of the first good capture (what was cited)."""
        first = history.first
        if first is not None and first.rendered != rendered:
            # Rendered one way and cited the other: what both have is the HTML.
            html_now, _, html_then, _, _ = self._on_the_html(item, history.target_id, first, noise, rebase)
            return html_now != html_then
        if first is None or (first.fingerprint == mine and first.basis == basis):
            return False
        theirs: str | None = first.fingerprint
        if not is_current(first.fingerprint, first.basis, noise):
            rebased = rebase(first, noise)
            theirs = rebased.fingerprint if rebased else None
        ours: str | None = mine
        if not is_current(mine, basis, noise):
            previous = history.previous
            # Same bytes as the previous capture, made under other rules (or never extracted).
            rebased = rebase(previous, noise) if previous is not None and previous.fingerprint == mine else None
            ours = rebased.fingerprint if rebased else None
        if theirs is None or ours is None:
            # Some text is out of reach: compare the bytes.
            mine_bytes = as_bytes(mine) if is_deferred(mine) else bytes_fingerprint(item.body, item.content_encoding)
            return as_bytes(first.fingerprint or "") != mine_bytes
        return theirs != ours

    def _on_the_html(
        self, item: CaptureItem, target_id: int, good: Good, noise: Noise, rebase: Rebase,
    ) -> tuple[str | None, str | None, str | None, str | None, bool]:
        """This capture and ``good``, one rendered and the other not, compared on what both
        have: the HTML the server sent. Returns (this capture's fingerprint, boilerplate,
        ``good``'s fingerprint, boilerplate, whether ``good``'s HTML was out of reach).

        An unrendered ``good``'s fingerprints are its HTML's (re-made
        through ``rebase`` when the rules changed); a rendered one's HTML is read back from
        its response record, without rewriting its row (whose fingerprints are the DOM's).
        """
        last = item.hops[-1]
        if not good.rendered and good.payload_digest is not None and good.payload_digest == last.payload_digest:
            # The same HTML as then: nothing to extract to know the two agree.
            return good.fingerprint, good.boilerplate, good.fingerprint, good.boilerplate, False
        # Extracted again also when not rendered: its own may be deferred or under old rules.
        shell = meaning(item.body, last.content_type, item.content_encoding, item.checked_at, noise=noise)
        fingerprint, boilerplate = shell.fingerprint, shell.boilerplate_fingerprint
        if good.rendered:
            earlier = self.earlier(item.url, target_id, good, noise, shell=True)
        elif is_current(good.fingerprint, good.basis, noise):
            earlier = Earlier(good.fingerprint or "", good.boilerplate, good.basis)
        else:
            earlier = rebase(good, noise)
        if earlier is None:
            # Its HTML is out of reach: compare the bytes the server sent rather than guess.
            return f"bytes:{last.payload_digest}", None, f"bytes:{good.payload_digest or 'unreadable'}", None, True
        return fingerprint, boilerplate, earlier.fingerprint, earlier.boilerplate, False

    def worth_a_second_fetch(self, item: CaptureItem, history: TargetHistory) -> Meaning | None:
        """Before a page is called ``changed``, it is fetched once more: text that differs
        between two answers seconds apart is per-request noise, left out of this URL's
        fingerprints from now on (``learn_noise``). The page as judged now if it is worth
        it, else None.

        Only for an HTML page whose bytes and evidence text differ from its last good
        capture's: an unchanged page costs no second request. What was learned applies to
        the earlier capture too (re-extracted from its WARC record under the new noise),
        so the verdict compares like with like.

        A rendered page is rendered a second time (a second fetch of its shell would teach
        nothing of the text its script builds), when its rendered text differs from its
        last good capture's, which was rendered too; the two DOMs are compared.
        """
        last = item.hops[-1] if item.hops else None
        if history.previous is None or item.error_kind is not None or last is None:
            return None
        previous = history.previous
        rendered = rendered_of(item)
        if rendered is not None:
            if not previous.rendered or last.truncated:
                return None
            noise = self.noise_of(history)
            page = dom_meaning(rendered, item.checked_at, noise)
            earlier = self.earlier(item.url, history.target_id, previous, noise)
            if earlier is None or earlier.fingerprint == page.fingerprint:
                return None
            self._prepared[item.url] = page
            return page
        if not 200 <= last.status < 300 or last.truncated or last.payload_digest == previous.payload_digest:
            return None
        noise = self.noise_of(history)
        page = meaning(item.body, last.content_type, item.content_encoding, item.checked_at, noise=noise)
        if page.kind != "html" or page.coding not in ("none", "complete"):
            return None
        self._prepared[item.url] = page
        # Compared with the earlier capture's HTML, also when that one was rendered.
        earlier = self.earlier(item.url, history.target_id, previous, noise, shell=True)
        if earlier is None or earlier.fingerprint == page.fingerprint:
            return None
        return page

    def learn_noise(self, item: CaptureItem, history: TargetHistory, page: Meaning, again: Fetched) -> None:
        """Learn the noise between ``page`` (from ``worth_a_second_fetch``) and ``again``,
        the second fetch of its URL; ``judge`` then uses it for the target."""
        last = item.hops[-1]
        noise = self.noise_of(history)
        other = again.hops[-1] if again.hops else None
        if again.error_kind is not None or other is None or other.status != last.status or other.truncated:
            return
        if rendered_of(item) is not None:
            # Rendered twice: what differs between the two DOMs is the page's noise.
            twice = rendered_of(again)
            if twice is None:
                return
            second = dom_meaning(twice, again.checked_at, noise)
        else:
            second = meaning(again.body, other.content_type, again.content_encoding, again.checked_at, noise=noise)
        if second.kind != "html":
            return
        learned = noise.learn(page.text, second.text).learn(page.boilerplate, second.boilerplate)
        if learned is noise:
            return
        self.count("evidence/noise/learned")
        self._noise[history.target_id] = learned
        self._noise_grew.add(history.target_id)
        self._learned.add(item.url)
        when = item.checked_at
        self._prepared[item.url] = dataclasses.replace(
            page,
            fingerprint=text_fingerprint(page.text, when, learned),
            boilerplate_fingerprint=text_fingerprint(page.boilerplate, when, learned) if page.boilerplate else None,
            basis=basis_of("html", learned),
        )

    def earlier(self, url: str, target_id: int, good: Good, noise: Noise, *, shell: bool = False) -> Earlier | None:
        """An earlier good capture's fingerprints under the rules in force with ``noise``:
        as stored where they were made under them, else re-extracted from its WARC record
        (once per crawl); None (and a warning) if its payload cannot be read back.

        A rendered capture is re-extracted from its rendered DOM (``urn:dom:`` record);
        with ``shell``, from the HTML in its response record instead (stored fingerprints
        are then never those asked for)."""
        shell = shell and good.rendered
        if not shell and is_current(good.fingerprint, good.basis, noise):
            return Earlier(good.fingerprint or "", good.boilerplate, good.basis)
        key = (*self.rebased_key(target_id, good, noise), shell)
        if key in self._rebased:
            return self._rebased[key]
        earlier: Earlier | None = None
        stored = good.fingerprint or ""
        when = good.checked_at.replace(tzinfo=timezone.utc) if good.checked_at else None
        from_dom = good.rendered and not shell
        try:
            if good.warc_filename is None or good.warc_offset is None:
                raise ArchiveError(f"capture {good.capture_id} has no WARC record in the database")
            archived = Capture(
                warc_filename=good.warc_filename,
                warc_offset=good.warc_offset,
                payload_filename=good.payload_filename,
                payload_offset=good.payload_offset,
                # With ``shell``, a rendered capture's HTML: its response record, not its DOM.
                dom_filename=good.dom_filename if from_dom else None,
                dom_offset=good.dom_offset if from_dom else None,
            )
            body, content_type, content_encoding = judged_payload(self.archive_dir, archived)
            # The payload read back must be the one the deferred fingerprint names.
            if not shell and is_deferred(stored) and bytes_fingerprint(body, content_encoding) != as_bytes(stored):
                raise ArchiveError(f"the payload archived in {good.warc_filename} is not the one capture {good.capture_id} recorded")
        except ArchiveError as exc:
            logger.warning(
                "%s: cannot read back the earlier capture %s from %s to compare its text; comparing bytes instead "
                "(signal previous_unreadable): %s",
                url, good.capture_id, good.dom_filename if from_dom else good.warc_filename, exc,
            )
            self.count("evidence/text/unreadable")
        else:
            page = meaning(body, content_type, content_encoding, when, noise=noise)
            earlier = Earlier(page.fingerprint, page.boilerplate_fingerprint, page.basis)
            # (a rendered capture's fingerprint is never deferred: its DOM is always extracted)
            self.count("evidence/text/resolved" if is_deferred(stored) and not shell else "evidence/text/rebased")
        self._rebased[key] = earlier
        return earlier

    def rebased_key(self, target_id: int, good: Good, noise: Noise) -> tuple[int, str, str | None, int]:
        """Which earlier captures ``earlier`` treats as one: same target, fingerprint, rules and noise."""
        return (target_id, good.fingerprint or "", good.basis, len(noise))


def _deferrable(probe: ProbeAnswer | None) -> frozenset[str]:
    """The kinds of page whose text need not be extracted now: all but the kind a probe
    answered 2xx with, whose text the soft-404 signals compare with the page's."""
    if probe is None or probe.status is None or not 200 <= probe.status < 300 or probe.meaning is None:
        return _TEXT_KINDS
    return _TEXT_KINDS - {probe.meaning.kind}


def _rendered_change(verdict: Verdict, boilerplate: str | None, last_boilerplate: str | None, last: Hop, previous: Good) -> Verdict:
    """An unchanged rendered page's ``change``, told by its DOM's text rather than by its
    shell's bytes (which the rules compare): ``boilerplate`` when the text outside its main
    content differs, ``bytes`` when only the HTML the server sent does."""
    if verdict.state != "ok" or verdict.reason not in ("unchanged", "restored"):
        return verdict
    if boilerplate is not None and last_boilerplate is not None and boilerplate != last_boilerplate:
        return dataclasses.replace(verdict, change="boilerplate")
    return dataclasses.replace(verdict, change="bytes" if last.payload_digest != previous.payload_digest else None)


def _render_signals(rendered: Rendered) -> list[str]:
    """What the browser did: ``render_failed`` (judged on the HTML instead), ``render_capped``
    (rendered as it stood at EVIDENCE_BROWSER_TIMEOUT), ``browser_refused`` (the page asked
    for what evidence would not fetch: a private address, another scheme)."""
    found = []
    if not rendered.ok:
        found.append("render_failed")
    elif rendered.outcome == CAPPED:
        found.append("render_capped")
    if rendered.refused:
        found.append("browser_refused")
    return found


def _retried(hop: Hop, hops: list[Hop]) -> bool:
    """A failed attempt that was retried is not a step of the redirect chain."""
    return hop is not hops[-1] and not 300 <= hop.status < 400
