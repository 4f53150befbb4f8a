from django.core.management.base import BaseCommand, CommandError

from advisor.models import Client
from advisor.services.erasure import ErasureIncomplete, ErasureRequestRejected, erase_client_memory


class Command(BaseCommand):
    help = ("Memory-graph step only: delete everything the memory graph holds in the scope of a client who has an "
            "open erasure request (and anything still queued for it), ahead of the scheduled purge. Their records "
            "(sessions, chat, advice, digests) are NOT deleted: they are kept until the firm's retention period "
            "ends, then the purge deletes them and the memory (see `erasure_request`). Irreversible; the audit "
            "trail keeps who, when, why and how much, never content.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--firm", required=True, help="firm slug")
        parser.add_argument("--client", required=True, help="client id")
        parser.add_argument("--actor", required=True, help="who asked for the erasure (kept in the audit trail)")
        parser.add_argument("--reason", required=True, help="why, e.g. 'GDPR art. 17 request of 2026-11-20'")
        parser.add_argument("--confirm", action="store_true", help="required: the erasure cannot be undone")

    def handle(self, *args, firm: str, client: str, actor: str, reason: str, confirm: bool, **options) -> None:
        record = Client.objects.filter(firm__slug=firm, external_id=client).select_related("firm").first()
        if record is None:
            raise CommandError(f"no client {client!r} in firm {firm!r}")
        if not confirm:
            raise CommandError("this erases the client's memory graph for good; add --confirm to go ahead")
        try:
            nodes = erase_client_memory(record, actor=actor, reason=reason)
        except (ErasureRequestRejected, ErasureIncomplete) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"erased {nodes} memory graph nodes of {client!r} (memory graph only: their records are "
                          "kept until the retention period ends, then the scheduled purge deletes them)")
