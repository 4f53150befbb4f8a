"""Communications rules for client digests (FINRA Rule 2210 is the public reference).

- A client digest is a communication with a retail investor: it carries the firm's disclosure block.
- Content that goes to more than DIGEST_RETAIL_THRESHOLD (25) retail clients within 30 days is a
  "retail communication" and waits for a principal's approval before it is sent (2210(b)(1)).
  "The same content" is what every reader gets alike: the firm's research (analyst views) and the
  disclosure, hashed into `shared_fingerprint`; a digest made only of the client's own numbers and
  facts is correspondence with one person and needs no approval.
- Wording that promises or guarantees returns is not allowed (2210(d)(1)(B) and (F)): such a digest
  is rejected with the phrase and where it came from.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from django.conf import settings

from advisor.models import Firm

# Phrases that promise performance. Negated uses ("does not guarantee") are allowed: see `promissory_phrases`.
PROMISSORY = re.compile(
    r"\bguarantee(?:d|s)?\b|\bassured (?:returns?|profits?|gains?|income)\b|\brisk[- ]free\b|\bno risk\b"
    r"|\b(?:can(?:'|no)t|cannot|won'?t) (?:lose|go down|fall)\b|\bsure thing\b|\bsure to (?:rise|gain|go up|win)\b"
    r"|\bwill (?:double|triple)\b|\bcertain to (?:rise|gain|go up)\b|\bpromised? (?:returns?|profits?|gains?)\b",
    re.IGNORECASE,
)
_NEGATION = re.compile(r"\b(?:not|no|never|cannot|can't|nothing|without)\b[^.;:]{0,20}$", re.IGNORECASE)
TEMPLATE_VERSION = "digest-v1"


@dataclass(frozen=True)
class Violation:
    phrase: str
    where: str

    def reason(self) -> str:
        return (f"\u201c{self.phrase}\u201d in {self.where} promises or guarantees returns, which communications "
                "with clients may not do (FINRA Rule 2210(d)(1)). Reword or withdraw it, then retry the digest.")


def promissory_phrases(text: str) -> list[str]:
    """The promissory phrases in `text`, skipping negated ones ("past performance does not guarantee ...")."""
    found = []
    for match in PROMISSORY.finditer(text):
        if not _NEGATION.search(text[max(0, match.start() - 40):match.start()]):
            found.append(match.group(0))
    return found


def check_wording(parts: list[tuple[str, str]]) -> list[Violation]:
    """`parts`: (where, text) pairs of what the client will read, the disclosure excepted."""
    return [Violation(phrase, where) for where, text in parts for phrase in promissory_phrases(text)]


def disclosure_for(firm: Firm) -> str:
    return firm.digest_disclosure.strip() or settings.DIGEST_DISCLOSURE


def shared_fingerprint(shared_texts: list[str], disclosure: str) -> str:
    """The hash of what every reader of this content gets alike; empty when nothing is shared."""
    if not shared_texts:
        return ""
    payload = json.dumps([TEMPLATE_VERSION, disclosure, sorted(set(shared_texts))], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()
