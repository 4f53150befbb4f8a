from datetime import datetime

from advisor.models import Client
from twin.management.commands._twin_command import TwinCommand
from twin.services.advice import AdviceResult, brief


class Command(TwinCommand):
    help = "Prepare the advisor's meeting with a client; prints the brief as one JSON object."

    def advise(self, client: Client, as_of: datetime | None, options: dict) -> AdviceResult:
        return brief(client=client, actor=None, as_of=as_of, channel="cli")
