"""Judging a capture: is the cited evidence still there, and is it what it was?"""

from crawler.verdicts.rules import Facts, History, Verdict, is_news, judge, news_kind

__all__ = ["Facts", "History", "Verdict", "is_news", "judge", "news_kind"]
