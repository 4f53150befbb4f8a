"""Database triggers that refuse UPDATE and DELETE on append-only tables, whatever code path tries.

Written per database vendor (SQLite for the embedded default, PostgreSQL for firms); other apps'
append-only tables add theirs through `audit.triggers.append_only_operation`.
"""
from django.db import migrations

from audit.triggers import append_only_operation


class Migration(migrations.Migration):

    dependencies = [("audit", "0001_initial")]

    operations = [append_only_operation("audit_auditentry")]
