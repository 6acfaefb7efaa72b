"""Scrapy settings for evidence: every ``EVIDENCE_*`` setting is defined and explained here.

The command line overrides any of them with ``evidence crawl -s NAME=VALUE``; the
most used also have their own options (``--archive``, ``--db``, ``--user-agent``,
``--timeout``, ``--max-body``) and environment variables.
"""

from crawler import __version__

# --- evidence's own settings -------------------------------------------------------

#: Write every exchange to WARC. Off only for experiments: without it nothing is archived.
EVIDENCE_WARC_ENABLED = True
#: Folder of the WARC store (``--archive``, ``EVIDENCE_ARCHIVE``).
EVIDENCE_ARCHIVE_DIR = "archive"
#: SQLAlchemy URL of the evidence database (``--db``, ``EVIDENCE_DB``).
EVIDENCE_DB_URL = "sqlite:///evidence.db"
#: Largest body kept per exchange, in bytes (``--max-body``). A larger body is cut
#: there and its record marked ``WARC-Truncated: length``; 0 keeps everything.
EVIDENCE_MAX_BODY_SIZE = 200 * 1024 * 1024
#: Write a response whose payload equals the URL's last archived one as a ``revisit``
#: record (profile identical-payload-digest) instead of a second copy of the body.
EVIDENCE_DEDUPLICATE = True
#: Re-check with If-None-Match / If-Modified-Since from the last archived response; a 304
#: is archived as a ``revisit`` record (profile server-not-modified).
EVIDENCE_CONDITIONAL_REQUESTS = True
#: Fetch hosts that resolve to private, loopback, link-local, multicast or reserved
#: addresses (``--allow-private``, ``EVIDENCE_ALLOW_PRIVATE=1``). Off: a cited URL or a
#: redirect cannot reach into the operator's network (checked on the address connected to).
EVIDENCE_ALLOW_PRIVATE = False
#: Seconds a whole download may take, however slowly the bytes trickle in; the body so
#: far is kept and marked ``WARC-Truncated: time``. ``DOWNLOAD_TIMEOUT`` is per read.
EVIDENCE_DOWNLOAD_DEADLINE = 300
#: Runs in a row a URL must fail (DNS, refused, timeout, 5xx...) before it counts as
#: gone: one bad night is not a removal. Access refusals (401, 403, 429...) never do.
EVIDENCE_GONE_AFTER = 3
#: Captures committed to the database in one transaction, after one fsync of the WARC
#: file: fewer fsyncs and commits, at the price of re-fetching up to one batch of URLs
#: after a crash (a row is never committed before the records it points at are on disk).
EVIDENCE_DB_BATCH_SIZE = 200
#: ... or fewer, when the oldest capture of the batch has waited this many seconds.
EVIDENCE_DB_BATCH_SECONDS = 2.0
#: Hosts whose connections are kept open for re-use (each idle one closes after 5 s);
#: past this many, the least recently used host's are closed.
EVIDENCE_CONNECTION_POOLS = 512
#: Bodies larger than this many bytes (announced by Content-Length, or received so far)
#: are read at most EVIDENCE_LARGE_BODY_SLOTS at a time: each body is held whole until
#: it is archived and judged, so this bounds the memory that cited datasets take.
EVIDENCE_LARGE_BODY_SIZE = 4 * 1024 * 1024
#: ... this many at a time; 0 reads them all at once.
EVIDENCE_LARGE_BODY_SLOTS = 2
#: Seconds a large body waits for a slot before it is read anyway (a server may drop a
#: connection that does not read for a minute, and a cut body would be a false alarm).
EVIDENCE_LARGE_BODY_WAIT = 30.0
#: Who runs the crawl, written into every warcinfo record (a name or an e-mail).
EVIDENCE_OPERATOR = ""
#: Fetch a random sibling of each page that answers 2xx (once per URL shape and run) to
#: recognise "not found" pages served with 200 (soft 404s). Its exchanges are archived.
EVIDENCE_PROBE_ENABLED = True
#: Before an HTML page is called ``changed``, fetch it once more (through its host's
#: slot, so at the host's pace): text differing between the two answers is per-request
#: noise, left out of the URL's fingerprints from then on (crawler/verdicts/fingerprint.py).
EVIDENCE_NOISE_REFETCH = True
#: Render HTML captures in headless Chromium (``--browser``): ``auto`` renders a page whose
#: HTML looks built by script (little visible text beside script bundles, an empty
#: application root, a ``noscript`` asking for JavaScript), ``always`` every HTML capture,
#: ``never`` none. Every request the page makes goes through evidence's own client: archived,
#: paced per host, and refused when it names a private address (crawler/browser/).
EVIDENCE_BROWSER = "auto"
#: The Chromium executable; empty: ``chromium`` on PATH (Debian's package ``chromium``).
EVIDENCE_BROWSER_PATH = ""
#: Seconds a render may take from navigation to screenshot. A page whose network never
#: goes idle is rendered as it stands at this cap (signal ``render_capped``).
EVIDENCE_BROWSER_TIMEOUT = 30.0
#: Pages rendered by one browser before it is restarted (what a leaking page holds goes with it).
EVIDENCE_BROWSER_PAGES = 50
#: ... or as soon as the browser's processes hold more than this many megabytes.
EVIDENCE_BROWSER_MEMORY_MB = 1536
#: Pages rendered at once.
EVIDENCE_BROWSER_CONCURRENCY = 2
#: The browser window, ``WIDTHxHEIGHT``; the screenshot takes the full page at this width.
EVIDENCE_BROWSER_VIEWPORT = "1280x900"
#: Set by the runner: the database id of the run the captures belong to.
EVIDENCE_RUN_ID = 0
#: WARC file names start with this.
EVIDENCE_WARC_PREFIX = "evidence"
#: A WARC file is closed and a new one started once it reaches this many bytes.
EVIDENCE_WARC_MAX_SIZE = 1024 * 1024 * 1024
#: How records are gzipped: ``fast`` (ISA-L, a ninth of zlib's CPU, files 12-20% larger)
#: or ``small`` (zlib level 6). Both are standard gzip members (crawler/warc/writer.py).
EVIDENCE_WARC_COMPRESSION = "fast"
#: Show done/total, the current host and the rate on stderr while crawling, when stderr
#: is a terminal (never under cron). ``-q`` switches it off.
EVIDENCE_PROGRESS_ENABLED = True
#: Seconds between two progress lines.
EVIDENCE_PROGRESS_INTERVAL = 1.0
#: Crawl processes of a local run (``evidence crawl --processes N``). Above 1, the URLs are
#: split by host into up to this many shards, each crawled by a process of its own with
#: the same run id; ``CONCURRENT_REQUESTS`` is divided among them. A crawl is bound by one
#: core, so more processes than cores gain nothing. Fewer hosts than processes: fewer
#: processes. Refused with ``--frontier``, where more workers are the way to scale.
EVIDENCE_PROCESSES = 1

#: Web archives asked for each cited URL's page as it was on the day it was cited:
#: Wayback-style collection base URLs, in order, each asked only when the ones before it
#: have no 200 memento near the cited date. The lookups (crawler/memento/) read Memento
#: (RFC 7089) TimeMaps and raw ``id_`` mementos; the crawl runs them once per cited URL
#: and cited date, after its captures and through the same address guard, timeouts,
#: per-host politeness and User-Agent, and keeps the memento in the WARC and the database
#: (``mementos``). ``--archives URL,...`` or the environment variable of the same name set
#: it; an empty value turns the lookups off, and then no request leaves for any archive.
#: Not run by ``evidence worker`` processes (a frontier run); ``evidence lookup`` runs them.
EVIDENCE_ARCHIVES = ["https://web.archive.org/web/"]

# --- trusted time (RFC 3161) -------------------------------------------------------
# Each may also be given as an environment variable of the same name, which ``-s
# NAME=VALUE`` overrides (``evidence verify``, ``export`` and ``timestamp`` read the
# environment and their own options).

#: Time-stamping authorities (RFC 3161) asked, in order, for a signed token over each
#: closed WARC file's SHA-256 and each exported WACZ's: a third party's word on when the
#: file existed (docs/auditors.md names public ones). Asked after a crawl's files have
#: closed, never during it; a file no TSA answered for is owed a token and asked for again
#: by the next crawl or ``evidence timestamp``. A list, or URLs separated by commas. Empty:
#: nothing is asked, and nothing leaves the machine. The TSA is the operator's own choice,
#: like a webhook, so no address guard applies: an in-house TSA on the local network works.
EVIDENCE_TSA_URL: list[str] = []
#: A PEM file of the TSA certificates (or their CAs) trusted: ``evidence verify`` checks
#: each token's signature and chain against it, and a token is only kept when it verifies.
#: Empty: tokens are kept and their imprints checked, but no signature is.
EVIDENCE_TSA_CA = ""
#: Seconds a TSA may take to answer; one that cannot be reached is not asked again in the
#: same round, so a TSA that is down costs one timeout, not one per file.
EVIDENCE_TSA_TIMEOUT = 10.0

# --- several workers (``evidence crawl --frontier``, ``evidence worker``) -------------
# Workers commit each capture on its own, whatever EVIDENCE_DB_BATCH_SIZE says: a URL is
# marked done on the frontier only once its row is committed.

#: The shared frontier, ``redis://HOST:PORT/N`` (``--frontier``, ``EVIDENCE_FRONTIER``).
#: Set by the command line; empty for a local crawl.
EVIDENCE_FRONTIER_URL = ""
#: This worker's id (``evidence worker --worker-id``): in its WARC file names and leases.
EVIDENCE_FRONTIER_WORKER_ID = ""
#: Seconds without a heartbeat after which a worker counts as dead and the URLs it was
#: fetching are put back on the queue for the others. Longer than any pause of a live
#: worker; a URL fetched twice is still recorded once.
EVIDENCE_FRONTIER_LEASE = 30.0
#: Seconds between two heartbeats of a worker; it also re-queues dead workers' URLs and
#: looks for new work this often.
EVIDENCE_FRONTIER_HEARTBEAT = 1.0
#: Seconds between two requests to one host, counted across all workers (Scrapy's own
#: delay and per-domain concurrency apply per worker). 0 switches the shared delay off.
EVIDENCE_FRONTIER_HOST_DELAY = 1.0
#: URLs a worker takes from the queue while its downloader is busy with this many
#: (redirects and retries of URLs it holds do not count). More keeps a worker busy on
#: many slow hosts; fewer shares a short run fairly among workers. 0: no limit.
EVIDENCE_FRONTIER_PREFETCH = 8

# --- notifications (``evidence crawl --notify-email ADDR``) ---------------------------
# Each of these may also be given as an environment variable of the same name, which
# ``-s NAME=VALUE`` overrides. Keep the password in the environment: a ``-s`` value is
# visible in the process list. They are kept out of the Scrapy crawl and its log.

#: SMTP server that relays the news e-mail.
EVIDENCE_SMTP_HOST = "localhost"
#: Its port: 25 for a local relay, 587 with ``EVIDENCE_SMTP_STARTTLS``.
EVIDENCE_SMTP_PORT = 25
#: Log in with this user name (empty: no login).
EVIDENCE_SMTP_USER = ""
#: ... and this password.
EVIDENCE_SMTP_PASSWORD = ""
#: The From address (empty: ``evidence@`` this machine's name).
EVIDENCE_SMTP_FROM = ""
#: Upgrade the connection with STARTTLS, verifying the server's certificate.
EVIDENCE_SMTP_STARTTLS = False
#: Seconds a webhook or the SMTP server may take before the notification counts as failed.
EVIDENCE_NOTIFY_TIMEOUT = 30

# --- Scrapy, set for checking citations on government sites -----------------------

#: Scrapy's name for the project, in its log lines.
BOT_NAME = "evidence"
#: Where Scrapy finds the citations spider.
SPIDER_MODULES = ["crawler.crawl.spider"]
#: Identifies the tool; ``--user-agent`` / ``EVIDENCE_USER_AGENT`` adds a contact.
USER_AGENT = f"evidence/{__version__} (citation evidence archiver)"

#: robots.txt policy: a cited URL is fetched once per run because a person cited it,
#: the way on-demand archiving services (Save Page Now, perma.cc) fetch a page, so
#: robots.txt is not consulted by default. Set ROBOTSTXT_OBEY=True (``--obey-robots``)
#: to honour it; a refused URL is then recorded as unreachable, reason ``robots``.
ROBOTSTXT_OBEY = False

#: Requests in flight over all hosts. Politeness is per host (below); a report's
#: citations spread over many hosts, and with 100 ms answers 16 in flight capped a run
#: at 160 URLs/s whatever the machine.
CONCURRENT_REQUESTS = 64
# Counts requests being downloaded, not those waiting out their host's delay
# (crawler/crawl/downloader.py).
DOWNLOADER = "crawler.crawl.downloader.TransferBoundDownloader"
# By priority, then first in, first out (crawler/crawl/scheduler.py).
SCHEDULER = "crawler.crawl.scheduler.CitationScheduler"
#: Requests in flight to one host (Scrapy's download slot: the host name, any port).
CONCURRENT_REQUESTS_PER_DOMAIN = 2
#: Adapt each host's delay to its latency (crawler/crawl/throttle.py, which also counts a 304 as a healthy answer).
AUTOTHROTTLE_ENABLED = True
#: Seconds between requests to a host until its first healthy answer (200 or 304), whose latency then sets the delay.
AUTOTHROTTLE_START_DELAY = 1.0
#: The longest delay a slow host is given, in seconds.
AUTOTHROTTLE_MAX_DELAY = 30.0
#: Requests AutoThrottle aims to keep in flight per host.
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
#: Seconds each read may take (``--timeout``); EVIDENCE_DOWNLOAD_DEADLINE bounds a whole download.
DOWNLOAD_TIMEOUT = 30

#: Retry timeouts, connection errors and the codes below; every attempt is archived.
RETRY_ENABLED = True
#: Retries after the first attempt.
RETRY_TIMES = 2
# 5xx and timeouts; access refusals (403, 429) are answers, recorded as they are.
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408]

#: Follow redirects (every hop is archived); a redirect to a non-HTTP scheme is archived, not followed.
REDIRECT_ENABLED = True
#: Hops followed before the URL counts as ``redirect_loop``.
REDIRECT_MAX_TIMES = 10
# A meta refresh is part of the page as cited; following it would hide the page.
METAREFRESH_ENABLED = False

# Non-2xx answers are evidence too (404, 410, 503): every one reaches the spider.
HTTPERROR_ALLOW_ALL = True
# The spider de-duplicates cited URLs itself; Scrapy's filter would silently drop a
# redirect to a URL already seen in the run (two citations redirected to one home page).
DUPEFILTER_CLASS = "scrapy.dupefilters.BaseDupeFilter"

# Only http and https are ever fetched, also after a redirect.
DOWNLOAD_HANDLERS = {
    "http": "crawler.crawl.handlers.rawhttp.RawHttpDownloadHandler",
    "https": "crawler.crawl.handlers.rawhttp.RawHttpDownloadHandler",
    "file": None,
    "data": None,
    "ftp": None,
    "s3": None,
}
# The recorder caps bodies itself (keeping the first bytes); Scrapy's own limit would
# drop the whole response instead.
DOWNLOAD_MAXSIZE = 0
#: ... and no warning at a size either.
DOWNLOAD_WARNSIZE = 0
# A body cut short by the server reaches the recorder flagged, to be archived as such.
DOWNLOAD_FAIL_ON_DATALOSS = False

#: Headers of every request, as a browser would send them.
DEFAULT_REQUEST_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    # gzip and deflate only: brotli and zstd bodies are not replayable by every WARC tool.
    "Accept-Encoding": "gzip, deflate",
}

#: The recorder, and the Scrapy middlewares switched off or replaced (each line says why).
DOWNLOADER_MIDDLEWARES = {
    # Above HttpCache (900) and below the download handler: process_response here runs
    # before Redirect (600), Retry (550) and any decoding, so every hop and attempt is
    # archived with the body as received.
    "crawler.warc.recorder.WarcRecorderMiddleware": 950,
    # Bodies stay encoded: they are archived, not parsed, and this keeps
    # decompression bombs out of memory.
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
    # No allowed_domains and no http_user: each would only look at every request.
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,
    # Redirects without asking the Referer spider middleware (crawler/crawl/redirect.py).
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "crawler.crawl.redirect.RedirectMiddleware": 600,
}
# Each spider middleware wraps every callback's output in another async iterator; these
# have nothing to do here: every status reaches the spider anyway (HTTPERROR_ALLOW_ALL),
# and the spider yields items only (it never follows links, and fetches its soft-404
# probes through the engine), so there are no requests of its own to police, and no
# request carries a Referer (crawler/crawl/redirect.py).
SPIDER_MIDDLEWARES = {
    "scrapy.spidermiddlewares.referer.RefererMiddleware": None,
    "scrapy.spidermiddlewares.httperror.HttpErrorMiddleware": None,
    "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
    "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
    "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware": None,
}
#: Records each capture, judged by crawler/verdicts/capture.py, and commits it in batches
#: (crawler/crawl/pipeline.py).
ITEM_PIPELINES = {"crawler.crawl.pipeline.EvidencePipeline": 300}
# Scrapy's own extensions, minus those a citation crawl has no use for. The list replaces
# Scrapy's EXTENSIONS_BASE because Scrapy imports every extension named there, even one
# set to None: the remote control alone imports aiohttp's web server (10 MB, 72 ms). Gone
# are the telnet console and the remote control (no way into a running crawl from
# outside), feed exports, job-state persistence and the memory debugger. Each removal is
# listed in crawler/crawl/compat.py (EXTENSIONS_REMOVED); tests/test_scrapy_compat.py
# fails when Scrapy's own list changes.
EXTENSIONS_BASE = {
    "scrapy.extensions.corestats.CoreStats": 0,
    "scrapy.extensions.logcount.LogCount": 0,
    "scrapy.extensions.memusage.MemoryUsage": 0,
    "scrapy.extensions.closespider.CloseSpider": 0,
    "scrapy.extensions.logstats.LogStats": 0,
}
#: Progress on a terminal, and AutoThrottle replaced.
EXTENSIONS = {
    "crawler.crawl.progress.Progress": 500,
    # In place of Scrapy's AutoThrottle, same order (see crawler/crawl/throttle.py).
    "crawler.crawl.throttle.NotModifiedAwareAutoThrottle": 0,
}
# One pipeline task per response instead of a hundred.
CONCURRENT_ITEMS = 1
# Scrapy starts no download while the responses being judged and archived add up to more
# than this (5 MB by default), so every cited file over 5 MB paused the whole crawl while
# it was handled. Large bodies are already read EVIDENCE_LARGE_BODY_SLOTS at a time.
SCRAPER_SLOT_MAX_ACTIVE_SIZE = 32 * 1024 * 1024
# Counters without Scrapy's per-attribute deprecation shim (crawler/crawl/stats.py).
STATS_CLASS = "crawler.crawl.stats.EvidenceStatsCollector"
# Scrapy's downloader/* stats re-serialise every request to count its bytes (2% of a
# re-check); the evidence/* stats and the database say what a run did.
DOWNLOADER_STATS = False

# No way into a running crawl from outside.
TELNETCONSOLE_ENABLED = False
#: Scrapy's remote control is off too.
REMOTE_CONTROL_ENABLED = False
#: Only warnings and errors on stderr; ``-v`` / ``-vv`` lower it.
LOG_LEVEL = "WARNING"
#: One line per message: level, logger, message.
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
# Items carry every archived hop; logging each one at DEBUG would drown the log.
LOG_FORMATTER = "crawler.crawl.logformatter.QuietLogFormatter"
#: Scrapy on asyncio: the HTTP client (crawler/crawl/handlers/http1.py) is asyncio code.
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
