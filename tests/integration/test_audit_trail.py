"""The audit trail is append-only (model, queryset and database trigger) and its hash chain detects edits."""
from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from audit import services as audit
from audit.models import AppendOnlyError, AuditEntry
from audit.triggers import maintenance_window

pytestmark = pytest.mark.django_db


def three_entries() -> list[AuditEntry]:
    return [audit.record(action="memory.forget", actor="chris", firm_id="acme", client_id="ann",
                         target=f"memory:m{i}", detail={"reason": "retracted"}) for i in range(3)]


def test_entries_chain_each_to_the_one_before_and_verify():
    first, second, third = three_entries()

    assert second.previous_hash == first.entry_hash and third.previous_hash == second.entry_hash
    check = audit.verify_chain()
    assert (check.ok, check.entries) == (True, 3)


def test_model_and_queryset_refuse_to_change_or_delete_an_entry():
    entry = three_entries()[0]
    entry.actor = "mallory"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).update(actor="mallory")
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()


def test_the_database_refuses_raw_sql_updates_and_deletes():
    entry = three_entries()[0]
    for statement in ("UPDATE audit_auditentry SET actor = 'mallory' WHERE id = %s",
                      "DELETE FROM audit_auditentry WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement, [entry.pk])
    assert AuditEntry.objects.get(pk=entry.pk).actor == "chris"


def test_verification_names_the_entry_that_was_altered_behind_the_triggers_back():
    second = three_entries()[1]
    with maintenance_window(), connection.cursor() as cursor:  # what only a database administrator could do
        cursor.execute("UPDATE audit_auditentry SET detail = %s WHERE id = %s", ['{"reason": "decayed"}', second.pk])

    check = audit.verify_chain()

    assert (check.ok, check.first_bad_id, check.problem) == (False, second.pk, "its content was altered")


def test_verification_notices_a_removed_entry():
    first, second, third = three_entries()
    with maintenance_window(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditentry WHERE id = %s", [second.pk])

    check = audit.verify_chain()

    assert (check.ok, check.first_bad_id) == (False, third.pk)
