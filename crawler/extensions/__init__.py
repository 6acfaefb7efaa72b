"""Scrapy extensions of evidence."""
