import json

from django.core.management.base import BaseCommand, CommandError

from audit.services import verify_chain


class Command(BaseCommand):
    help = ("Recompute the audit trail's hash chain; prints {entries, ok, first_bad_id, problem} as JSON and "
            "exits non-zero when an entry was altered or removed.")

    def handle(self, *args, **options) -> None:
        check = verify_chain()
        self.stdout.write(json.dumps({"entries": check.entries, "ok": check.ok, "first_bad_id": check.first_bad_id,
                                      "problem": check.problem}))
        if not check.ok:
            raise CommandError(f"the audit trail does not verify at entry {check.first_bad_id}: {check.problem}")
