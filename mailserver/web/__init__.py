"""The web side: webmail for students, the instructor console, client autoconfig.

One aiohttp application per web listener (``http``, ``https``), running on
the server's event loop in the same process, so it shares the store, the
authenticator and the event channel (:class:`~mailserver.services.Services`)
with SMTP, POP3 and IMAP instead of keeping copies of its own.

Extension point (how another module adds pages)
-----------------------------------------------
1. Write a module with ``setup(app: web.Application) -> None`` that adds its
   routes (``app.router.add_get(...)``), and, if it has templates, calls
   :func:`mailserver.web.templates.add_template_dir` with its own folder and
   :func:`mailserver.web.app.add_nav` for a link in the top bar.
2. Name the module in :data:`mailserver.web.app.MODULES`.
3. In every handler, say who may use it first thing:
   ``user = require_user(request)`` (any logged-in account) or
   ``user = require_admin(request)`` (accounts in ``web.admins``), both from
   :mod:`mailserver.web.security`. A stranger is sent to the login page; a
   student who is not an admin gets 403.
4. Render with :func:`mailserver.web.templates.render` and extend
   ``base.html``; every POST form includes ``{{ csrf_field() }}``. The CSRF
   middleware refuses any POST without the session's token (JSON or
   ``fetch`` callers send it in the ``X-CSRF-Token`` header, which the page
   finds in ``<meta name="csrf-token">``).
5. Services (store, auth, config, events) are ``request.app[SERVICES]``
   (:mod:`mailserver.web.keys`); long-lived tasks (an SSE stream) should stop
   on ``app.on_shutdown``.

Every response gets a strict Content-Security-Policy (scripts only from
``/static/``, no inline script, no framing by other sites) unless the handler
sets a stricter one itself, as the message-body view does.
"""
