"""Paginators: from one page (its request, response and record count) to the next request, or None.

Every paginator stops at a page without records, so an API that keeps answering never loops
forever on empty pages; `max_pages` in the connector bounds the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .records import find

if TYPE_CHECKING:
    import httpx

# `<https://api/x?page=2>; rel="next", <...>; rel="last"`
_LINK = re.compile(r"<([^>]*)>\s*;([^,]*)")


@dataclass(frozen=True)
class PageRequest:
    """The URL and query parameters of one page (a next link carries its own query)."""

    url: str
    params: dict = field(default_factory=dict)


class Paginator:
    def start(self, url: str, params: dict) -> PageRequest:
        return PageRequest(url, dict(params))

    def next(
        self, page: PageRequest, response: httpx.Response, body: object, count: int
    ) -> PageRequest | None:
        raise NotImplementedError


class SinglePage(Paginator):
    def next(self, page, response, body, count):
        return None


def link_header_next(header: str | None) -> str | None:
    """The `rel="next"` URL of an RFC 8288 `Link` header."""
    for url, attrs in _LINK.findall(header or ""):
        if re.search(r'rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?', attrs):
            return url.strip()
    return None


class NextLink(Paginator):
    def __init__(self, path: str | None) -> None:
        self.path = path

    def next(self, page, response, body, count):
        if count == 0:
            return None
        link = find(body, self.path) if self.path else link_header_next(response.headers.get("Link"))
        if not link or not isinstance(link, str):
            return None
        return PageRequest(link, {})  # the link holds the whole query (filters, skip tokens)


class CursorToken(Paginator):
    def __init__(self, token_path: str, param: str) -> None:
        self.token_path, self.param = token_path, param

    def next(self, page, response, body, count):
        token = find(body, self.token_path)
        if count == 0 or token in (None, "", False):
            return None
        return PageRequest(page.url, {**page.params, self.param: token})


class OffsetLimit(Paginator):
    def __init__(self, offset_param: str, limit_param: str, limit: int, total_path: str | None) -> None:
        self.offset_param, self.limit_param, self.limit, self.total_path = (
            offset_param,
            limit_param,
            limit,
            total_path,
        )

    def start(self, url, params):
        return PageRequest(url, {**params, self.offset_param: 0, self.limit_param: self.limit})

    def next(self, page, response, body, count):
        offset = int(page.params.get(self.offset_param, 0)) + count
        if count < self.limit:  # a short page is the last
            return None
        if self.total_path:
            total = find(body, self.total_path)
            if isinstance(total, (int, float)) and offset >= total:
                return None
        return PageRequest(page.url, {**page.params, self.offset_param: offset})


class PageNumber(Paginator):
    def __init__(self, page_param: str, size_param: str | None, size: int, start: int) -> None:
        self.page_param, self.size_param, self.size, self.first = page_param, size_param, size, start

    def start(self, url, params):
        sized = {self.size_param: self.size} if self.size_param else {}
        return PageRequest(url, {**params, **sized, self.page_param: self.first})

    def next(self, page, response, body, count):
        if count == 0 or (self.size_param and count < self.size):
            return None
        return PageRequest(page.url, {**page.params, self.page_param: int(page.params[self.page_param]) + 1})


def make_paginator(config) -> Paginator:
    """The paginator for a `paginator:` section."""
    kind = config.type
    if kind == "none":
        return SinglePage()
    if kind == "next_link":
        return NextLink(config.path)
    if kind == "cursor":
        return CursorToken(config.token_path, config.param)
    if kind == "offset":
        return OffsetLimit(config.offset_param, config.limit_param, config.limit, config.total_path)
    if kind == "page_number":
        return PageNumber(config.page_param, config.size_param, config.size, config.start)
    raise ValueError(f"unknown paginator type '{kind}'")
