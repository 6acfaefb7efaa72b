"""Carrying the evidence away: CDXJ indexes, WACZ packages and citation tables."""
