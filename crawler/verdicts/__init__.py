"""Judging a capture: is the cited evidence still there, and is it what it was?"""

from crawler.verdicts.rules import Facts, Previous, Verdict, judge, is_news

__all__ = ["Facts", "Previous", "Verdict", "judge", "is_news"]
