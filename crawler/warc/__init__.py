"""Recording: every exchange written to WARC, read back by offset, and verified."""
