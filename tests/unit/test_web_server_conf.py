"""config/gunicorn_conf.py: what the master loads before the workers fork (the served app: tests/integration/test_web_server.py)."""
from __future__ import annotations

from django.template import engines

from config import gunicorn_conf
from memory.embeddings import get_embeddings
from memory.extraction import securities


def test_the_web_server_preloads_the_application_in_the_master():
    assert gunicorn_conf.preload_app is True


def test_warming_up_loads_the_embedder_the_securities_master_and_compiles_every_project_template():
    get_embeddings.cache_clear()
    securities._master.cache_clear()
    loader = engines["django"].engine.template_loaders[0]
    loader.reset()

    gunicorn_conf.warm_up()

    assert get_embeddings.cache_info().currsize == 1
    assert securities._master.cache_info().currsize == 1
    assert "twin/chat.html" in gunicorn_conf.project_templates()
    assert "advisor/client_detail.html" in gunicorn_conf.project_templates()
    assert set(gunicorn_conf.project_templates()) <= set(loader.get_template_cache)


def test_the_access_log_line_ends_with_the_time_the_worker_spent():
    assert gunicorn_conf.access_log_format.endswith(" %(M)sms")
