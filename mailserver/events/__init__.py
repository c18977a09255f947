"""The one channel for "something happened" between sessions, workers and the console.

Producers (the store, the protocol sessions, the login throttle) publish
:class:`Event` values on a topic; consumers (IMAP IDLE in another worker,
the instructor's console, transcript files) subscribe to topics. The
in-process :class:`LocalEventBus` is the default; a cross-process transport
(a Unix socket hub in the supervisor) and later an external engine (Redis
pub/sub, PostgreSQL LISTEN/NOTIFY) implement the same :class:`EventBus`.
"""

from mailserver.events.bus import EventBus, EventHandler, LocalEventBus, Subscription
from mailserver.events.model import Event, Topic

__all__ = ["Event", "EventBus", "EventHandler", "LocalEventBus", "Subscription", "Topic"]
