"""HTTP fetching with verification: host allow-list, robots.txt, politeness, retries.

Every response is checked: status, and body length against ``Content-Length`` (a truncated
body is a failed attempt, not a short file). 5xx answers, timeouts, connection resets and
truncated bodies are retried with exponential backoff and full jitter (base 0.2 s, cap 5 s)
up to the profile's ``max_attempts``; 4xx answers are final. Redirects are followed by hand,
and only to the profile's hosts.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from urllib import robotparser
from urllib.parse import urljoin

import aiohttp

from crawler.profile import SiteProfile, host_of

__all__ = ["FetchError", "Fetcher", "Response"]

logger = logging.getLogger(__name__)

_RETRYABLE_STATUS = {500, 502, 503, 504, 429}


class FetchError(Exception):
    """A URL could not be fetched within the retry budget (or may not be fetched at all)."""

    def __init__(
        self, url: str, reason: str, *, retryable: bool = True, refused: bool = False
    ) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.retryable = retryable and not refused
        self.refused = refused
        """The crawler's own rules forbid the URL (robots.txt, off the profile's hosts)."""


@dataclass(frozen=True)
class Response:
    url: str
    status: int
    body: bytes
    content_type: str

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class Fetcher:
    """Fetches for one site profile; use as ``async with Fetcher(profile) as f``."""

    def __init__(
        self, profile: SiteProfile, *, backoff_base_s: float = 0.2, seed: int | None = None
    ) -> None:
        self.profile = profile
        self.backoff_base_s = backoff_base_s
        self._rng = random.Random(seed)
        self._session: aiohttp.ClientSession | None = None
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._last_request: dict[str, float] = {}
        self._host_locks: dict[str, asyncio.Lock] = {}
        self._robots: dict[str, robotparser.RobotFileParser] = {}
        self.requests = 0
        self.retries = 0

    async def __aenter__(self) -> Fetcher:
        timeout = aiohttp.ClientTimeout(total=self.profile.timeout_s)
        self._session = aiohttp.ClientSession(
            timeout=timeout, headers={"User-Agent": "moodstream-crawler/0.1 (+robots.txt honoured)"}
        )
        return self

    async def __aexit__(self, *exc) -> None:
        if self._session is not None:
            await self._session.close()

    async def _robots_for(self, url: str) -> robotparser.RobotFileParser:
        host = host_of(url)
        if host not in self._robots:
            parser = robotparser.RobotFileParser()
            try:
                response = await self._get_once(urljoin(url, "/robots.txt"))
                lines = response.text.splitlines() if response.status == 200 else []
            except (aiohttp.ClientError, asyncio.TimeoutError, FetchError):
                lines = []  # no robots.txt reachable: everything allowed (RFC 9309)
            parser.parse(lines)
            self._robots[host] = parser
        return self._robots[host]

    async def _polite(self, host: str) -> None:
        lock = self._host_locks.setdefault(host, asyncio.Lock())
        async with lock:
            wait = self._last_request.get(host, 0.0) + self.profile.delay_s - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last_request[host] = time.monotonic()

    async def _get_once(self, url: str) -> Response:
        assert self._session is not None, "use Fetcher as an async context manager"
        for _ in range(5):  # redirects, by hand, on-profile only
            async with self._session.get(url, allow_redirects=False) as resp:
                if resp.status in (301, 302, 303, 307, 308):
                    target = urljoin(url, resp.headers.get("Location", ""))
                    if not self.profile.allows(target):
                        raise FetchError(
                            url, f"redirect to {target} leaves the profile's hosts", retryable=False
                        )
                    url = target
                    continue
                body = await resp.read()
                expected = resp.headers.get("Content-Length")
                if expected is not None and int(expected) != len(body):
                    raise FetchError(url, f"truncated body: {len(body)} of {expected} bytes")
                return Response(url, resp.status, body, resp.headers.get("Content-Type", ""))
        raise FetchError(url, "too many redirects", retryable=False)

    async def get(self, url: str) -> Response:
        """GET ``url`` with the profile's rules; raise :class:`FetchError` when it cannot."""
        if not self.profile.allows(url):
            raise FetchError(url, "off the profile's hosts", refused=True)
        robots = await self._robots_for(url)
        if not robots.can_fetch("moodstream-crawler", url):
            raise FetchError(url, "disallowed by robots.txt", refused=True)
        host = host_of(url)
        semaphore = self._semaphores.setdefault(host, asyncio.Semaphore(self.profile.concurrency))
        last_reason = ""
        for attempt in range(self.profile.max_attempts):
            if attempt:
                self.retries += 1
                cap = min(5.0, self.backoff_base_s * 2**attempt)
                await asyncio.sleep(self._rng.uniform(0, cap))
            async with semaphore:
                await self._polite(host)
                self.requests += 1
                try:
                    response = await self._get_once(url)
                except FetchError as exc:
                    if not exc.retryable:
                        raise
                    last_reason = exc.reason
                    continue
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    last_reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                    continue
            if response.status in _RETRYABLE_STATUS:
                last_reason = f"HTTP {response.status}"
                continue
            if response.status != 200:
                raise FetchError(url, f"HTTP {response.status}", retryable=False)
            return response
        raise FetchError(url, f"gave up after {self.profile.max_attempts} attempts ({last_reason})")
