"""Several workers on one run: a shared frontier in Redis (scrapy-redis) and one database.

``evidence crawl --frontier redis://...`` is the coordinator: it creates the run in the
database, pushes the run's URLs to a run-scoped scrapy-redis queue through its
dupefilter, waits until every URL is done or failed, and prints the summary and exit
code a local crawl would. ``evidence worker`` runs Scrapy with a scrapy-redis scheduler
over that queue (:mod:`crawler.scaleout.frontier.scheduler`), archives into WARC files named with
its worker id, and records captures in the shared database.

Taking a URL is a lease, not a pop: in one atomic step the URL leaves the queue and is
entered under the worker's id in the run's in-flight hash; it is marked done once its
capture is committed. A worker keeps a heartbeat key alive; any worker, and the
coordinator, puts the leases of a worker whose heartbeat expired back on the queue, so a
killed worker loses nothing. The database's one-capture-per-run-and-URL key settles the
rare case of a URL fetched twice (a worker presumed dead that was only slow).

The modules: :mod:`.state` (the Redis keys and their atomic scripts), :mod:`.queue`,
:mod:`.scheduler`, :mod:`.politeness` (per-host delay shared by all workers),
:mod:`.pipeline`, :mod:`.worker` and :mod:`.coordinator`.
"""
