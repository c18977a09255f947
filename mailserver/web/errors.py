"""Store errors as web answers, in one place (as each mail protocol maps them in one place).

A :class:`StorageError` carries a kind and a message safe to show; the page
gets the HTTP status for the kind and that message. Anything else that goes
wrong is logged with its traceback and the browser gets a generic 500; the
exception's text never reaches the page.
"""

from __future__ import annotations

import logging

from aiohttp import web

from mailserver.storage import ErrorKind, StorageError
from mailserver.web.security import Handler

log = logging.getLogger("mailserver.web")

STATUS: dict[ErrorKind, int] = {
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.EXPUNGED: 404,
    ErrorKind.EXISTS: 409,
    ErrorKind.NO_PERMISSION: 403,
    ErrorKind.OVER_QUOTA: 507,
    ErrorKind.NO_SPACE: 507,
    ErrorKind.IN_USE: 409,
    ErrorKind.INVALID_NAME: 400,
    ErrorKind.TEMPORARY: 503,
}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except StorageError as exc:
        log.info("%s %s: store said %s (%s)", request.method, request.path, exc.kind.value, exc)
        return web.Response(status=STATUS.get(exc.kind, 500), text=exc.message + "\n")
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return web.Response(status=500, text="Something went wrong on the server.\n")
