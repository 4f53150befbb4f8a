from __future__ import annotations

from datetime import datetime, time
from datetime import timezone as dt_timezone

from django import forms
from django.utils import timezone

from advisor.models import ConversationSession

MAX_UPLOAD_BYTES = 2 * 1024 * 1024


class SessionNotesForm(forms.Form):
    """Typed notes or an uploaded transcript (plain text, "Speaker: words" per line)."""

    channel = forms.ChoiceField(choices=ConversationSession.Channel.choices, initial="meeting")
    started_at = forms.DateTimeField(initial=timezone.now, help_text="When the session took place.")
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), required=False)
    transcript = forms.FileField(required=False, help_text="A .txt transcript, UTF-8, up to 2 MB.")

    def clean_transcript(self):
        upload = self.cleaned_data.get("transcript")
        if upload is None:
            return ""
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError("The transcript is larger than 2 MB; split it into sessions.")
        raw = upload.read()
        if b"\x00" in raw:
            raise forms.ValidationError("That file is not a text transcript (it contains binary data).")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise forms.ValidationError("The transcript must be UTF-8 text.") from None

    def clean(self):
        data = super().clean()
        if not (data.get("notes") or "").strip() and not (data.get("transcript") or "").strip():
            raise forms.ValidationError("Type some notes or upload a transcript.")
        return data

    @property
    def text(self) -> str:
        parts = [self.cleaned_data.get("notes") or "", self.cleaned_data.get("transcript") or ""]
        return "\n\n".join(p for p in parts if p.strip())


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
