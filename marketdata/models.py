"""Quotes we store ourselves (yfinance forbids caching sessions): price history and refresh runs.

The latest quote of each security lives on its graph node, where drift is computed; here we keep a
bounded daily history for charts and a record of every refresh, so staleness is explainable.
"""
from __future__ import annotations

from django.db import models


class PriceBar(models.Model):
    symbol = models.CharField(max_length=20)
    date = models.DateField()
    open = models.FloatField(null=True)
    high = models.FloatField(null=True)
    low = models.FloatField(null=True)
    close = models.FloatField()
    volume = models.BigIntegerField(null=True)
    source = models.CharField(max_length=20)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["symbol", "date"], name="one_bar_per_symbol_and_day")]
        ordering = ["symbol", "date"]


class QuoteRefreshRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        OK = "ok", "All quoted"
        PARTIAL = "partial", "Some symbols unknown or failed"
        FAILED = "failed", "Provider failed; prices marked stale"

    provider = models.CharField(max_length=20)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True)
    symbols_requested = models.PositiveIntegerField(default=0)
    symbols_updated = models.PositiveIntegerField(default=0)
    unknown = models.JSONField(default=list)
    errors = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)

    class Meta:
        ordering = ["-started_at"]
