"""How many connections the kernel may hold for a listener before we accept them.

asyncio's default is 100, and ``create_server(sock=...)`` calls ``listen()``
again with it, so a worker serving the socket its supervisor bound with a
larger backlog used to shrink it back to 100. Past that, under a burst of
connections (a class logging in at once, a load generator), the kernel
answers with SYN cookies and drops a handshake's last ACK when the accept
queue is full: the client believes it is connected, but the server never
hears of the connection. SMTP, POP3 and IMAP servers speak first, so such a
client waits for a greeting that never comes (four or five of 300 IMAP
connections opened at once, every time). Every listener passes this value.
"""

from __future__ import annotations

#: The ``listen()`` backlog of every listening socket (the kernel caps it at
#: ``net.core.somaxconn``, 4096 on current Linux).
BACKLOG = 511
