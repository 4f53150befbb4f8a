from datetime import datetime

from advisor.models import Client
from twin.management.commands._twin_command import TwinCommand
from twin.services.advice import AdviceResult, ask


class Command(TwinCommand):
    help = "Ask the twin a question about a client; prints the advice as one JSON object."

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--question", required=True, help="the question, in plain words")

    def advise(self, client: Client, as_of: datetime | None, options: dict) -> AdviceResult:
        return ask(client=client, question=options["question"], actor=None, as_of=as_of, channel="cli")
