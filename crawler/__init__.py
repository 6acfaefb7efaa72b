"""evidence: archive the web pages a document cites and watch whether they still hold."""

__version__ = "0.1.0"
