"""Session transcripts: recorded by each protocol session, kept and shown elsewhere.

``recorder`` is what a session calls; ``archive`` keeps recent sessions in
memory for the console; ``files`` writes one text file per session. They
meet only on the event channel (``session.*`` topics).
"""

from mailserver.transcripts.recorder import PROTOCOL_OF, SessionRecorder

__all__ = ["PROTOCOL_OF", "SessionRecorder"]
