"""Chat records become append-only (1 of 3): the reply, the withdrawal by going back and the memory
rollback get tables of their own, and so does an advisor's review decision; 0007 copies the old columns into them, 0008 drops the columns."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('advisor', '0004_session_versions_erasure_requests'),
        ('twin', '0005_digest_archive_append_only'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ChatAnswer',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('answer', models.TextField(blank=True)),
                ('contract', models.JSONField(blank=True, default=dict, help_text="The twin's advice contract for this reply.")),
                ('disclosure', models.TextField(blank=True, help_text='The disclosure shown with the answer, as shown.')),
                ('answered_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'abstract': False,
            },
        ),
        migrations.CreateModel(
            name='ChatMemoryRollback',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('at', models.DateTimeField(default=django.utils.timezone.now)),
                ('memories_withdrawn', models.PositiveIntegerField(default=0)),
                ('facts_reopened', models.PositiveIntegerField(default=0)),
            ],
            options={
                'abstract': False,
            },
        ),
        migrations.CreateModel(
            name='ChatMemoryRollbackRound',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
            ],
            options={
                'abstract': False,
            },
        ),
        migrations.CreateModel(
            name='ChatWithdrawal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
            ],
            options={
                'abstract': False,
            },
        ),
        migrations.AlterField(
            model_name='chatrewind',
            name='actor',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='chatrewind',
            name='at',
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AlterField(
            model_name='chatround',
            name='said_by',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='chatround',
            name='session',
            field=models.OneToOneField(blank=True, help_text="The client's words as a chat session: what becomes memory. None when refused.", null=True, on_delete=django.db.models.deletion.PROTECT, related_name='chat_round', to='advisor.conversationsession'),
        ),
        migrations.AddField(
            model_name='chatanswer',
            name='round',
            field=models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='answer_record', to='twin.chatround'),
        ),
        migrations.AddField(
            model_name='chatmemoryrollback',
            name='rewind',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='memory_rollbacks', to='twin.chatrewind'),
        ),
        migrations.AddField(
            model_name='chatmemoryrollbackround',
            name='rollback',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='round_links', to='twin.chatmemoryrollback'),
        ),
        migrations.AddField(
            model_name='chatmemoryrollbackround',
            name='round',
            field=models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='memory_rollback', to='twin.chatround'),
        ),
        migrations.AddField(
            model_name='chatwithdrawal',
            name='rewind',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='withdrawals', to='twin.chatrewind'),
        ),
        migrations.AddField(
            model_name='chatwithdrawal',
            name='round',
            field=models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='withdrawal', to='twin.chatround'),
        ),
        migrations.AlterField(
            model_name='reviewitem',
            name='created_at',
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.CreateModel(
            name='ReviewDecision',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('approved', models.BooleanField()),
                ('decided_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('note', models.TextField(blank=True)),
                ('decided_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('item', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='decision_record', to='twin.reviewitem')),
            ],
            options={
                'abstract': False,
            },
        ),
    ]
