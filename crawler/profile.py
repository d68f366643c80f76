"""Site profiles: where a site's tracks are and how to read them, one TOML file per site.

```toml
name = "alpha"
hosts = ["127.0.0.1:8701"]            # the only hosts the crawler may touch
start_urls = ["http://127.0.0.1:8701/new"]
delay_s = 0.0                        # politeness delay between requests to one host
concurrency = 4                      # requests in flight per host

[patterns]                           # regular expressions, each with one group (or named groups)
track_link = 'href="(/track/[^"]+)"'  # on list pages: links to track pages
next_page = 'rel="next" href="([^"]+)"'
playlist_link = 'href="(/playlist/[^"]+)"'   # optional: emotion playlists
playlist_emotion = 'data-emotion="(\\w+)"'    # optional: the playlist page's emotion
title = '<h1 class="title">([^<]+)</h1>'
singer = ...                          # singer, author, album: optional, empty when absent
duration = ...                        # "m:ss" or seconds; optional
audio_url = '<audio src="([^"]+)"'
```

Depth-first traversal: a list page's track pages are visited before its next page.
"""

from __future__ import annotations

import html
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["ProfileError", "SiteProfile", "load_profile", "host_of"]

_REQUIRED_PATTERNS = ("track_link", "title", "audio_url")
_OPTIONAL_PATTERNS = (
    "next_page", "playlist_link", "playlist_emotion", "singer", "author", "album", "duration",
)  # fmt: skip


class ProfileError(ValueError):
    """A site profile is malformed or points outside its own hosts."""


def host_of(url: str) -> str:
    """``host:port`` of an absolute URL (the unit a profile allows and throttles)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProfileError(f"{url!r} is not an absolute http(s) URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


@dataclass(frozen=True)
class SiteProfile:
    """One site's crawl rules (see the module docstring)."""

    name: str
    hosts: tuple[str, ...]
    start_urls: tuple[str, ...]
    patterns: dict[str, re.Pattern] = field(repr=False)
    delay_s: float = 0.0
    concurrency: int = 4
    timeout_s: float = 20.0
    max_attempts: int = 4
    max_audio_mb: float = 200.0

    def allows(self, url: str) -> bool:
        """Whether ``url`` is on one of the profile's hosts."""
        try:
            return host_of(url) in self.hosts
        except ProfileError:
            return False

    def find(self, name: str, text: str) -> str | None:
        """The first match of pattern ``name`` in ``text`` (None when absent or not configured)."""
        pattern = self.patterns.get(name)
        match = pattern.search(text) if pattern else None
        return html.unescape(match.group(1)).strip() if match else None

    def find_all(self, name: str, text: str) -> list[str]:
        """Every match of pattern ``name`` in ``text``, in page order, without repeats."""
        pattern = self.patterns.get(name)
        if pattern is None:
            return []
        return list(dict.fromkeys(html.unescape(m.group(1)) for m in pattern.finditer(text)))

    def on_host(self, host: str) -> SiteProfile:
        """A copy for a site served at ``host`` (``127.0.0.1:PORT``): its hosts and start URLs
        move there (the local test site runs on a free port)."""
        old = self.hosts[0]
        return replace(
            self, hosts=(host,), start_urls=tuple(u.replace(old, host, 1) for u in self.start_urls)
        )


def load_profile(path: Path | str) -> SiteProfile:
    """Read and validate a TOML profile.

    Raises
    ------
    ProfileError
        Missing keys, a pattern that does not compile, or a start URL off the listed hosts.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"{path}: {exc}") from exc
    for key in ("name", "hosts", "start_urls", "patterns"):
        if key not in data:
            raise ProfileError(f"{path}: missing {key!r}")
    raw = data["patterns"]
    missing = [p for p in _REQUIRED_PATTERNS if p not in raw]
    if missing:
        raise ProfileError(f"{path}: [patterns] needs {', '.join(missing)}")
    unknown = set(raw) - set(_REQUIRED_PATTERNS) - set(_OPTIONAL_PATTERNS)
    if unknown:
        raise ProfileError(f"{path}: unknown patterns {', '.join(sorted(unknown))}")
    patterns = {}
    for name, text in raw.items():
        try:
            patterns[name] = re.compile(text, re.S)
        except re.error as exc:
            raise ProfileError(f"{path}: pattern {name!r} does not compile: {exc}") from exc
    hosts = tuple(data["hosts"])
    for url in data["start_urls"]:
        if host_of(url) not in hosts:
            raise ProfileError(
                f"{path}: start URL {url} is off the profile's hosts ({', '.join(hosts)}); "
                "a profile may only crawl the hosts it names"
            )
    return SiteProfile(
        name=data["name"],
        hosts=hosts,
        start_urls=tuple(data["start_urls"]),
        patterns=patterns,
        delay_s=float(data.get("delay_s", 0.0)),
        concurrency=int(data.get("concurrency", 4)),
        timeout_s=float(data.get("timeout_s", 20.0)),
        max_attempts=int(data.get("max_attempts", 4)),
        max_audio_mb=float(data.get("max_audio_mb", 200.0)),
    )
