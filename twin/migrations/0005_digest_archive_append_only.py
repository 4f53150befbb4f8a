"""Sent digests and compliance approvals are append-only in the database too (books and records)."""
from django.db import migrations

from audit.triggers import append_only_operation


class Migration(migrations.Migration):

    dependencies = [("twin", "0004_digests"), ("audit", "0002_append_only_triggers")]

    operations = [append_only_operation("twin_sentdigest"), append_only_operation("twin_digestapproval")]
