"""Digest content to an e-mail: HTML (inline styles, tables, inline SVG charts) and a text alternative."""
from __future__ import annotations

from dataclasses import dataclass

from django.template.loader import render_to_string

from twin.digests.charts import moves_svg
from twin.digests.content import DigestContent

ADVISOR_BLOCKS = (("Moves since the last digest", "moves"), ("New or changed analyst views", "viewpoints"),
                  ("Facts to confirm", "confirm"), ("Goals coming due", "goals"),
                  ("Concerns these moves touch", "concerns"), ("Talking points", "notes"))
CLIENT_BLOCKS = (("In plain words", "notes"), ("Your securities since the last digest", "moves"),
                 ("Analyst views on your securities", "viewpoints"), ("Please confirm", "confirm"),
                 ("Goals coming up", "goals"), ("Things you told us you worry about", "concerns"))


@dataclass(frozen=True)
class RenderedDigest:
    subject: str
    html: str
    text: str


def render(content: DigestContent, *, subject: str, firm_name: str, disclosure: str) -> RenderedDigest:
    numbers = {citation_id: index for index, citation_id in enumerate(content.citations, start=1)}
    blocks = ADVISOR_BLOCKS if content.audience == "advisor" else CLIENT_BLOCKS
    sections = []
    for section in content.sections:
        title = f"Moves of {section.client_name}'s securities" if content.audience == "advisor" else "Your securities"
        sections.append({
            "client_name": section.client_name,
            "chart_svg": moves_svg(section.chart, title),
            "empty": section.is_empty(),
            "blocks": [(heading, [{"text": item.text, "refs": sorted(numbers[c] for c in item.cites)}
                                  for item in getattr(section, name)]) for heading, name in blocks],
        })
    context = {"subject": subject, "firm_name": firm_name, "audience": content.audience, "disclosure": disclosure,
               "covers_from": content.covers_from, "covers_to": content.covers_to,
               "content": {"reader_name": content.reader_name, "sections": sections},
               "citations": list(content.citations.values())}
    return RenderedDigest(subject=subject, html=render_to_string("twin/digests/email.html", context),
                          text=render_to_string("twin/digests/email.txt", context))
