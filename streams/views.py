"""HTTP views of the worker: health and the state tables."""

from __future__ import annotations

import faust
from faust.web import Request, Response, View

from streams.tables import Tables

__all__ = ["define_views"]


def define_views(app: faust.App, tables: Tables) -> None:
    """Register the HTTP views on ``app``."""

    @app.page("/health")
    class Health(View):
        """Liveness and a summary of this worker's local state."""

        async def get(self, request: Request) -> Response:
            ready = app.tables.recovery.completed.is_set() and not app.rebalancing
            return self.json(
                {
                    "status": "ok",
                    "ready": ready,
                    "app_id": app.conf.id,
                    "tracks_local": len(tables.tracks),
                }
            )

    @app.page("/api/tracks/{track_id}")
    class TrackView(View):
        """One track's table entry (routed to the worker that owns its partition)."""

        @app.table_route(table=tables.tracks, match_info="track_id")
        async def get(self, request: Request, track_id: str) -> Response:
            entry = tables.tracks.get(track_id)
            if entry is None:
                return self.json({"error": f"no track {track_id!r}"}, status=404)
            return self.json({"track_id": track_id, **entry})
