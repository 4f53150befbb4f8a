"""Chat records become append-only (3 of 3): the columns that changed after a round was said go (0007
copied them into records of their own), and a trigger refuses UPDATE and DELETE on every chat record."""
from django.db import migrations, models

from audit.triggers import append_only_operation

TABLES = ("twin_chatround", "twin_chatanswer", "twin_chatrewind", "twin_chatwithdrawal", "twin_chatmemoryrollback",
          "twin_chatmemoryrollbackround", "twin_reviewitem", "twin_reviewdecision")


class Migration(migrations.Migration):

    dependencies = [("twin", "0007_chat_records_copy"), ("audit", "0002_append_only_triggers")]

    operations = [
        migrations.RemoveIndex(
            model_name='chatround',
            name='chat_round_line',
        ),
        migrations.RemoveField(
            model_name='chatrewind',
            name='facts_reopened',
        ),
        migrations.RemoveField(
            model_name='chatrewind',
            name='memories_withdrawn',
        ),
        migrations.RemoveField(
            model_name='chatround',
            name='answer',
        ),
        migrations.RemoveField(
            model_name='chatround',
            name='contract',
        ),
        migrations.RemoveField(
            model_name='chatround',
            name='disclosure',
        ),
        migrations.RemoveField(
            model_name='chatround',
            name='memory_withdrawn_at',
        ),
        migrations.RemoveField(
            model_name='chatround',
            name='status',
        ),
        migrations.RemoveField(
            model_name='chatround',
            name='withdrawn_by',
        ),
        migrations.AddIndex(
            model_name='chatround',
            index=models.Index(fields=['conversation', 'number'], name='chat_round_number'),
        ),
        migrations.RemoveField(
            model_name='reviewitem',
            name='decided_at',
        ),
        migrations.RemoveField(
            model_name='reviewitem',
            name='decided_by',
        ),
        migrations.RemoveField(
            model_name='reviewitem',
            name='note',
        ),
        migrations.RemoveField(
            model_name='reviewitem',
            name='status',
        ),
        *[append_only_operation(table) for table in TABLES],
    ]
