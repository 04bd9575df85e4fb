"""Sending the requests: the plan of cases, one call through cache, rate limit and retry,
pricing, the async runner, and the dry run that calls nothing.
"""
