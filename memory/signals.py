"""What memory announces about the records it was given, so the recording app can show their state.

Memory imports no other app; the app that recorded a session or viewpoint listens to these (see
`advisor/receivers.py`). Each is sent after the outbox row changed state.
"""
from django.dispatch import Signal

# kind: "session" | "viewpoint"; object_ids: the recording app's row ids now in the graph
records_stored = Signal()
# kind, object_id, error (text a person can act on), final (True when no automatic retry is left)
record_failed = Signal()
