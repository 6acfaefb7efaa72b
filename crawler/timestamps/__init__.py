"""Trusted time (RFC 3161): a time-stamping authority's signed word that a file's SHA-256
existed at a time, which whoever holds the database and the archive cannot forge.

``tsa`` speaks the protocol (request, answer, checks); ``stamping`` stamps closed WARC
files and exported packages and keeps the tokens; ``checking`` re-checks them for
``evidence verify``.
"""
