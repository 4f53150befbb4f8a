"""The Celery application: Redis as broker and result backend, configured from Django settings."""
import os

from celery import Celery
from celery.signals import beat_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("advisor_twin")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@beat_init.connect
def send_schedule_once_at_start(sender, **kwargs) -> None:
    """Interval entries first fire one interval after beat starts; a fresh deployment should not
    wait a minute for its first quote refresh and outbox sweep."""
    for entry in app.conf.beat_schedule.values():
        app.send_task(entry["task"], args=entry.get("args", ()), kwargs=entry.get("kwargs", {}))
