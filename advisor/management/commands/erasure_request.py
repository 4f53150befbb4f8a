from django.core.management.base import BaseCommand, CommandError

from advisor.models import Client, ErasureRequest
from advisor.services.erasure import ErasureRequestRejected, request_erasure, set_legal_hold


class Command(BaseCommand):
    help = ("Record a client's erasure request (their memory is restricted at once; their records are purged when "
            "the firm's retention period ends), or place/release a legal hold that stops the purge.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--firm", required=True, help="firm slug")
        parser.add_argument("--client", required=True, help="client id")
        parser.add_argument("--actor", required=True, help="who (kept in the audit trail)")
        parser.add_argument("--reason", required=True, help="why, without personal content")
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--hold", action="store_true", help="place a legal hold on the open request")
        action.add_argument("--release", action="store_true", help="release the legal hold")

    def handle(self, *args, firm: str, client: str, actor: str, reason: str, hold: bool, release: bool,
               **options) -> None:
        record = Client.objects.filter(firm__slug=firm, external_id=client).select_related("firm").first()
        if record is None:
            raise CommandError(f"no client {client!r} in firm {firm!r}")
        try:
            if hold or release:
                request = ErasureRequest.objects.filter(client=record, purged_at__isnull=True).first()
                if request is None:
                    raise CommandError(f"client {client!r} has no open erasure request")
                request = set_legal_hold(request=request, hold=hold, actor=actor, reason=reason)
                self.stdout.write(f"legal hold {'placed on' if hold else 'released from'} erasure request {request.pk}")
                return
            request = request_erasure(client=record, actor=actor, reason=reason)
        except ErasureRequestRejected as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"erasure request {request.pk}: memory restricted now; records kept until "
                          f"{request.retention_until:%Y-%m-%d}, then purged unless held")
