"""A run's lifecycle: starting, locking, recovering and finishing a run, and the
local (one-process) crawl."""
