"""The twin's relational records. Each feature keeps its models in its own module, imported here."""

# --- Digests (twin/digests/models.py) ------------------------------------------------------------
from twin.digests.models import Digest, DigestApproval, DigestRun, SentDigest  # noqa: F401
