"""Chat records become append-only (2 of 3): what the old columns said, as records of their own.

A round's reply (answer, contract, disclosure) becomes a ChatAnswer; `withdrawn_by` a ChatWithdrawal;
each rewind's memory rollback (its counts, and the rounds whose `memory_withdrawn_at` was set) a
ChatMemoryRollback with one ChatMemoryRollbackRound per round; a decided review item's decision a
ReviewDecision. Status is derived from them from now on
(a review item's decision, or its absence, says awaiting review, withheld or answered).
"""
from django.db import migrations


def forwards(apps, schema_editor) -> None:  # noqa: ANN001
    ChatRound = apps.get_model("twin", "ChatRound")
    ChatRewind = apps.get_model("twin", "ChatRewind")
    ChatAnswer = apps.get_model("twin", "ChatAnswer")
    ChatWithdrawal = apps.get_model("twin", "ChatWithdrawal")
    ChatMemoryRollback = apps.get_model("twin", "ChatMemoryRollback")
    ChatMemoryRollbackRound = apps.get_model("twin", "ChatMemoryRollbackRound")
    for chat_round in ChatRound.objects.order_by("pk").iterator():
        if chat_round.status != "unanswered":
            ChatAnswer.objects.create(round_id=chat_round.pk, answer=chat_round.answer, contract=chat_round.contract,
                                      disclosure=chat_round.disclosure, answered_at=chat_round.said_at)
        if chat_round.withdrawn_by_id:
            ChatWithdrawal.objects.create(round_id=chat_round.pk, rewind_id=chat_round.withdrawn_by_id)
    for rewind in ChatRewind.objects.order_by("pk").iterator():
        rolled_back = list(ChatRound.objects.filter(withdrawn_by_id=rewind.pk, memory_withdrawn_at__isnull=False)
                           .order_by("memory_withdrawn_at"))
        if not rolled_back:
            continue
        rollback = ChatMemoryRollback.objects.create(
            rewind_id=rewind.pk, at=rolled_back[0].memory_withdrawn_at,
            memories_withdrawn=rewind.memories_withdrawn, facts_reopened=rewind.facts_reopened)
        ChatMemoryRollbackRound.objects.bulk_create(
            ChatMemoryRollbackRound(rollback_id=rollback.pk, round_id=r.pk) for r in rolled_back)
    ReviewItem = apps.get_model("twin", "ReviewItem")
    ReviewDecision = apps.get_model("twin", "ReviewDecision")
    for item in ReviewItem.objects.exclude(status="pending").order_by("pk").iterator():
        ReviewDecision.objects.create(item_id=item.pk, approved=item.status == "approved", note=item.note,
                                      decided_by_id=item.decided_by_id, decided_at=item.decided_at or item.created_at)


class Migration(migrations.Migration):

    dependencies = [("twin", "0006_chat_records_append_only")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
