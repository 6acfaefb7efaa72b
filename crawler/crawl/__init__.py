"""The crawl: Scrapy's plug-in surface, every component crawler/settings.py names
(spider, download handlers, downloader, scheduler, middlewares, pipeline, extensions)."""
