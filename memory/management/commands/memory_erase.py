from django.core.management.base import BaseCommand, CommandError

from advisor.models import Client
from memory.services.erasure import ErasureIncomplete, erase_client_memory


class Command(BaseCommand):
    help = ("Erase one client's memory for privacy: their conversation records and everything the memory graph "
            "holds in their scope. Irreversible; the audit trail keeps who, when, why and how much, never content.")

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
            raise CommandError("this erases the client's memory for good; add --confirm to go ahead")
        try:
            report = erase_client_memory(record, actor=actor, reason=reason)
        except ErasureIncomplete as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"erased {report.sessions} sessions and {report.graph_nodes} memory graph nodes of {client!r}")
