from __future__ import annotations

import codecs
from datetime import datetime, time
from datetime import timezone as dt_timezone

from django import forms
from django.utils import timezone

from advisor.models import ConversationSession

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_NOTES_CHARS = 200_000  # typed notes; longer texts come as a transcript file
# Byte order marks a text editor may put first: Windows Notepad saves "Unicode" as UTF-16 with one.
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


class SessionNotesForm(forms.Form):
    """Typed notes or an uploaded transcript (plain text, "Speaker: words" per line)."""

    channel = forms.ChoiceField(choices=ConversationSession.Channel.choices, initial="meeting")
    started_at = forms.DateTimeField(initial=timezone.now, help_text="When the session took place.")
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), required=False, max_length=MAX_NOTES_CHARS,
                            error_messages={"max_length": f"The notes are longer than {MAX_NOTES_CHARS:,} characters; "
                                                          "upload them as a transcript file instead."})
    transcript = forms.FileField(required=False, help_text="A .txt transcript, UTF-8, up to 2 MB.")

    def clean_transcript(self) -> str:
        """The upload as text, or a form error saying what is wrong with the file and how to fix it."""
        upload = self.cleaned_data.get("transcript")
        if upload is None:
            return ""
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"The transcript is {upload.size / 1024 / 1024:.1f} MB, more than 2 MB; split it into sessions.")
        raw = upload.read()
        for bom, encoding in _BOMS:
            if raw.startswith(bom):
                try:
                    return raw.decode(encoding)
                except UnicodeDecodeError:
                    raise forms.ValidationError(
                        f"The transcript starts like {encoding.upper()} text but is not; save it as UTF-8 text.") from None
        if b"\x00" in raw:
            raise forms.ValidationError("That file is not a text transcript (it contains binary data).")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as error:
            line = raw[:error.start].count(b"\n") + 1
            raise forms.ValidationError(
                f"The transcript is not UTF-8 text (byte 0x{raw[error.start]:02X} on line {line}); "
                "save it as UTF-8 and upload it again.") from None

    def clean(self):
        data = super().clean()
        if not (data.get("notes") or "").strip() and not (data.get("transcript") or "").strip():
            raise forms.ValidationError("Type some notes or upload a transcript.")
        return data

    @property
    def text(self) -> str:
        parts = [self.cleaned_data.get("notes") or "", self.cleaned_data.get("transcript") or ""]
        return "\n\n".join(p for p in parts if p.strip())


class SessionCorrectionForm(forms.Form):
    """The corrected notes of a session and why: recorded as a new version, the original kept."""

    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 10}), max_length=MAX_NOTES_CHARS)
    reason = forms.CharField(max_length=500, help_text="Why the notes change, e.g. 'wrong retirement year'.")


class ViewpointForm(forms.Form):
    symbol = forms.CharField(max_length=40, help_text="Ticker or company name, e.g. AAPL or Apple.")
    stance = forms.ChoiceField(choices=[("buy", "Buy"), ("hold", "Hold"), ("sell", "Sell")])
    target_price = forms.DecimalField(required=False, min_value=0.01, max_digits=18, decimal_places=4)
    horizon_months = forms.IntegerField(required=False, min_value=1, max_value=120)
    rationale = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=4000)


class MemoryAsOfForm(forms.Form):
    """The client page's memory "as of" a date, on one of the two clocks (memory/graph/search.py IN_VIEW)."""

    CLOCKS = [("said", "what was said and true then"), ("known", "what the twin knew then")]
    as_of = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}),
                            error_messages={"invalid": "Give the date as YYYY-MM-DD."})
    clock = forms.ChoiceField(choices=CLOCKS, required=False, initial="said")

    def moment(self) -> dict:
        """Keyword arguments for the memory selectors: the end of the chosen day (UTC) on the chosen clock."""
        day = self.cleaned_data.get("as_of") if self.is_valid() else None
        if day is None:
            return {}
        end_of_day = datetime.combine(day, time.max, tzinfo=dt_timezone.utc)
        return {"known_at" if self.cleaned_data.get("clock") == "known" else "as_of": end_of_day}
