"""Sessions and turns become append-only books and records: corrections are versions (who, when, why)
linked to the original, memory's mutable status moves to SessionMemoryState, and database triggers
refuse updates and deletes; erasure requests with a retention period and a legal hold."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from audit.triggers import append_only_operation


def move_memory_state_off_the_record(apps, schema_editor):  # noqa: ANN001, ANN201
    """Each session's memory status moves to its own row before the session becomes append-only."""
    session_model = apps.get_model("advisor", "ConversationSession")
    state_model = apps.get_model("advisor", "SessionMemoryState")
    state_model.objects.bulk_create(
        state_model(session_id=pk, status=status, error=error)
        for pk, status, error in session_model.objects.values_list("pk", "memory_status", "memory_error"))


class Migration(migrations.Migration):

    dependencies = [
        ('advisor', '0003_digest_settings'),
        ('audit', '0002_append_only_triggers'),
    ]

    operations = [
        migrations.CreateModel(
            name='ErasureRequest',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('requested_at', models.DateTimeField()),
                ('reason', models.CharField(help_text="Why, without personal content (e.g. 'GDPR art. 17 request').", max_length=200)),
                ('retention_until', models.DateTimeField(help_text="Records are kept until then (the firm's retention period).")),
                ('legal_hold', models.BooleanField(default=False, help_text='While set, nothing is purged.')),
                ('legal_hold_reason', models.CharField(blank=True, max_length=200)),
                ('purged_at', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'ordering': ['-requested_at'],
            },
        ),
        migrations.CreateModel(
            name='SessionMemoryState',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('pending', 'Pending memory'), ('stored', 'In memory'), ('failed', 'Memory failed')], default='pending', max_length=10)),
                ('error', models.TextField(blank=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.RemoveConstraint(
            model_name='conversationsession',
            name='session_external_id_per_client',
        ),
        migrations.AddField(
            model_name='conversationsession',
            name='correction_reason',
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name='conversationsession',
            name='original',
            field=models.ForeignKey(blank=True, help_text='The first version; empty on the original itself.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='corrections', to='advisor.conversationsession'),
        ),
        migrations.AddField(
            model_name='conversationsession',
            name='previous',
            field=models.ForeignKey(blank=True, help_text='The version this one corrects.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='corrected_by', to='advisor.conversationsession'),
        ),
        migrations.AddField(
            model_name='conversationsession',
            name='version',
            field=models.PositiveIntegerField(default=1, help_text='1 for the original record, then each correction.'),
        ),
        migrations.AddField(
            model_name='firm',
            name='record_retention_years',
            field=models.PositiveIntegerField(default=6, help_text='How long books and records are kept after an erasure request before they are purged.'),
        ),
        migrations.AddConstraint(
            model_name='conversationsession',
            constraint=models.UniqueConstraint(fields=('client', 'external_id', 'version'), name='session_version_per_client'),
        ),
        migrations.AddField(
            model_name='erasurerequest',
            name='client',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='erasure_requests', to='advisor.client'),
        ),
        migrations.AddField(
            model_name='erasurerequest',
            name='requested_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='sessionmemorystate',
            name='session',
            field=models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='memory_state', to='advisor.conversationsession'),
        ),
        migrations.RunPython(move_memory_state_off_the_record, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='conversationsession',
            name='memory_error',
        ),
        migrations.RemoveField(
            model_name='conversationsession',
            name='memory_status',
        ),
        append_only_operation("advisor_conversationsession"),
        append_only_operation("advisor_conversationturn"),
        migrations.AddIndex(
            model_name='erasurerequest',
            index=models.Index(fields=['purged_at', 'retention_until'], name='erasure_due'),
        ),
        migrations.AddIndex(
            model_name='sessionmemorystate',
            index=models.Index(fields=['status'], name='session_memory_status'),
        ),
    ]
