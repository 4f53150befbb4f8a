"""The Celery application: Redis as broker and result backend, configured from Django settings."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("advisor_twin")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
