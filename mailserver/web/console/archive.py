"""The console's view of the shared transcript archive."""

from __future__ import annotations

from aiohttp import web

from mailserver.transcripts.archive import TranscriptArchive, shared_archive
from mailserver.web.keys import SERVICES


async def archive_of(request: web.Request) -> TranscriptArchive | None:
    """The server's archive with every worker's sessions in it (None when
    ``transcripts.keep_sessions`` is 0): a worker keeps only its own until a
    console asks (``TranscriptArchive.gather``)."""
    services = request.app[SERVICES]
    settings = services.config.transcripts
    if settings.keep_sessions <= 0:
        return None
    archive = shared_archive(
        services.events, settings.keep_sessions, int(settings.keep_mb * 1024 * 1024)
    )
    await archive.gather()
    return archive
