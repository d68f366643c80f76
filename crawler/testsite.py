"""A local music site for tests, benchmarks and the demo (aiohttp).

It serves a folder of audio files under two different HTML layouts, ``/alpha/...`` and
``/beta/...`` (two "sites" with their own profiles in ``crawler/profiles/``), with paginated
lists of the newest tracks, emotion playlists (from the folder's ``labels.csv``, when it has
an ``emotion`` column), a ``robots.txt`` that forbids ``/private/`` (and a list link into it),
and fault injection: random 500s, slow answers, truncated bodies. Files added to the folder
appear as new tracks on the next request (newest first). Corrupt audio is simply a file that
does not decode.

Metadata per file: the ``labels.csv`` columns ``title, singer, author, album`` when present,
else made up from the file name; the duration from the file header ("m:ss").
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import html
import random
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

__all__ = ["Faults", "MusicSite", "AUDIO_SUFFIXES"]

AUDIO_SUFFIXES = (".ogg", ".flac", ".wav", ".mp3")
PAGE_SIZE = 5


@dataclass
class Faults:
    """Fault injection rates (0..1) on every page and media answer."""

    error_rate: float = 0.0
    slow_rate: float = 0.0
    slow_s: float = 0.3
    truncate_rate: float = 0.0
    seed: int = 0


@dataclass(frozen=True)
class _Track:
    track_id: str
    file: Path
    title: str
    singer: str
    author: str
    album: str
    duration: str
    emotion: str | None


class MusicSite:
    """The site over ``folder``; ``await site.start(port)`` serves it on 127.0.0.1."""

    def __init__(self, folder: Path, *, faults: Faults | None = None) -> None:
        self.folder = Path(folder)
        self.faults = faults or Faults()
        self._rng = random.Random(self.faults.seed)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        self.media_requests = 0
        self.paths_requested: list[str] = []
        self._durations: dict[tuple[str, int], float] = {}

    # -- catalogue -------------------------------------------------------------------------
    def _labels(self) -> dict[str, dict]:
        path = self.folder / "labels.csv"
        if not path.exists():
            return {}
        with open(path, newline="") as f:
            return {row["path"]: row for row in csv.DictReader(f)}

    def tracks(self) -> list[_Track]:
        """Every audio file of the folder (recursively), newest first (file headers are read
        once per file and modification time)."""
        return self._scan()

    def _duration(self, path: Path) -> float:
        import soundfile as sf

        key = (str(path), path.stat().st_mtime_ns)
        if key not in self._durations:
            try:
                self._durations[key] = sf.info(str(path)).duration
            except Exception:  # noqa: BLE001  (a corrupt file: the crawler must find out itself)
                self._durations[key] = 0.0
        return self._durations[key]

    def _scan(self) -> list[_Track]:
        labels = self._labels()
        files = [p for p in self.folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES]
        files.sort(key=lambda p: (-p.stat().st_mtime_ns, str(p)))
        out = []
        for path in files:
            rel = path.relative_to(self.folder).as_posix()
            row = labels.get(rel, {})
            digest = hashlib.sha1(rel.encode()).hexdigest()
            seconds = self._duration(path)
            emotion = (row.get("emotion") or "").strip().lower() or None
            out.append(
                _Track(
                    track_id=digest[:12],
                    file=path,
                    title=row.get("title") or path.stem.replace("_", " ").replace("-", " ").title(),
                    singer=row.get("singer") or f"Artist {int(digest[:4], 16) % 7 + 1}",
                    author=row.get("author") or f"Composer {int(digest[4:8], 16) % 5 + 1}",
                    album=row.get("album") or f"Album {int(digest[8:12], 16) % 4 + 1}",
                    duration=f"{int(seconds // 60)}:{int(seconds % 60):02d}",
                    emotion=emotion,
                )
            )
        return out

    # -- faults ----------------------------------------------------------------------------
    async def _faulty(
        self, request: web.Request, body: bytes, content_type: str
    ) -> web.StreamResponse:
        f = self.faults
        if self._rng.random() < f.slow_rate:
            await asyncio.sleep(f.slow_s)
        if self._rng.random() < f.error_rate:
            return web.Response(status=500, text="injected server error")
        if body and self._rng.random() < f.truncate_rate:
            response = web.StreamResponse(
                headers={"Content-Type": content_type, "Content-Length": str(len(body))}
            )
            await response.prepare(request)
            await response.write(body[: len(body) // 2])
            request.transport.close()  # the body stops short of its Content-Length
            return response
        return web.Response(body=body, content_type=content_type.split(";")[0])

    # -- pages -----------------------------------------------------------------------------
    def _page(self, title: str, body: str) -> bytes:
        return f"<!doctype html><html><head><title>{html.escape(title)}</title></head><body>{body}</body></html>".encode()

    def _paged(self, tracks: list[_Track], request: web.Request) -> tuple[list[_Track], int | None]:
        page = max(1, int(request.query.get("page", "1")))
        chunk = tracks[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        return chunk, (page + 1 if page * PAGE_SIZE < len(tracks) else None)

    def _by_id(self, track_id: str) -> _Track:
        for track in self.tracks():
            if track.track_id == track_id:
                return track
        raise web.HTTPNotFound(text="no such track")

    async def robots(self, request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nDisallow: /private/\n")

    async def media(self, request: web.Request) -> web.StreamResponse:
        rel = Path(request.match_info["path"])
        path = self.folder / rel  # symlinks inside the folder are served; ".." is not
        if rel.is_absolute() or ".." in rel.parts or not path.is_file():
            raise web.HTTPNotFound()
        self.media_requests += 1
        content_type = {
            ".ogg": "audio/ogg",
            ".flac": "audio/flac",
            ".wav": "audio/wav",
            ".mp3": "audio/mpeg",
        }
        return await self._faulty(
            request,
            path.read_bytes(),
            content_type.get(path.suffix.lower(), "application/octet-stream"),
        )

    # alpha: classic HTML
    async def alpha_list(self, request: web.Request) -> web.StreamResponse:
        chunk, nxt = self._paged(self.tracks(), request)
        items = "".join(
            f'<li><a class="track" href="/alpha/track/{t.track_id}">{html.escape(t.title)}</a></li>'
            for t in chunk
        )
        more = f'<a rel="next" href="/alpha/new?page={nxt}">older</a>' if nxt else ""
        body = f'<h2>New music</h2><ul>{items}</ul>{more}<a href="/alpha/playlists">playlists</a>'
        body += '<a class="track" href="/private/track/secret">members only</a>'
        return await self._faulty(request, self._page("alpha", body), "text/html")

    async def alpha_playlists(self, request: web.Request) -> web.StreamResponse:
        emotions = sorted({t.emotion for t in self.tracks() if t.emotion})
        body = "".join(f'<a class="pl" href="/alpha/playlist/{e}">{e}</a>' for e in emotions)
        return await self._faulty(request, self._page("playlists", body), "text/html")

    async def alpha_playlist(self, request: web.Request) -> web.StreamResponse:
        emotion = request.match_info["emotion"]
        chunk, nxt = self._paged([t for t in self.tracks() if t.emotion == emotion], request)
        items = "".join(
            f'<li><a class="track" href="/alpha/track/{t.track_id}">{html.escape(t.title)}</a></li>'
            for t in chunk
        )
        more = f'<a rel="next" href="/alpha/playlist/{emotion}?page={nxt}">more</a>' if nxt else ""
        body = (
            f'<section class="playlist" data-emotion="{emotion}"><ul>{items}</ul>{more}</section>'
        )
        return await self._faulty(request, self._page(emotion, body), "text/html")

    async def alpha_track(self, request: web.Request) -> web.StreamResponse:
        t = self._by_id(request.match_info["track_id"])
        rel = t.file.relative_to(self.folder).as_posix()
        body = (
            f'<h1 class="title">{html.escape(t.title)}</h1><p>by <span class="singer">{html.escape(t.singer)}</span>, '
            f'written by <span class="author">{html.escape(t.author)}</span>, from <i class="album">{html.escape(t.album)}</i> '
            f'(<span class="duration">{t.duration}</span>)</p><audio src="/media/{rel}" controls></audio>'
        )
        return await self._faulty(request, self._page(t.title, body), "text/html")

    # beta: attribute-driven layout, different words
    async def beta_list(self, request: web.Request) -> web.StreamResponse:
        chunk, nxt = self._paged(self.tracks(), request)
        items = "".join(f'<div class="card" data-href="/beta/t/{t.track_id}"></div>' for t in chunk)
        more = f'<button class="more" data-next="/beta/latest?page={nxt}"></button>' if nxt else ""
        return await self._faulty(
            request, self._page("beta", f"<main>{items}{more}</main>"), "text/html"
        )

    async def beta_track(self, request: web.Request) -> web.StreamResponse:
        t = self._by_id(request.match_info["track_id"])
        rel = t.file.relative_to(self.folder).as_posix()
        attrs = (
            f'data-name="{html.escape(t.title)}" data-artist="{html.escape(t.singer)}" '
            f'data-composer="{html.escape(t.author)}" data-record="{html.escape(t.album)}" data-length="{t.duration}"'
        )
        body = f'<article id="song" {attrs}><source data-stream="/media/{rel}"></article>'
        return await self._faulty(request, self._page(t.title, body), "text/html")

    async def away(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("http://elsewhere.invalid/free-music")

    @web.middleware
    async def _record(self, request: web.Request, handler):
        self.paths_requested.append(request.path)
        return await handler(request)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/alpha/away", self.away)
        app.router.add_get("/robots.txt", self.robots)
        app.router.add_get("/media/{path:.+}", self.media)
        app.router.add_get("/alpha/new", self.alpha_list)
        app.router.add_get("/alpha/playlists", self.alpha_playlists)
        app.router.add_get("/alpha/playlist/{emotion}", self.alpha_playlist)
        app.router.add_get("/alpha/track/{track_id}", self.alpha_track)
        app.router.add_get("/beta/latest", self.beta_list)
        app.router.add_get("/beta/t/{track_id}", self.beta_track)
        return app

    async def start(self, port: int = 0, host: str = "127.0.0.1") -> int:
        """Serve in the running event loop; return the port."""
        self._runner = web.AppRunner(self.app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
