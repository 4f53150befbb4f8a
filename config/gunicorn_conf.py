"""gunicorn settings for the portal: the Procfile's web server and the load test's (`-c config/gunicorn_conf.py`).

The application is loaded once, in the master (`preload_app`), and warmed there: the URLconf and every
view module imported, the templates compiled, the embedder and the securities master read (each worker
loaded them on its first requests before). Then `gc.freeze()` puts all of it out of the cyclic garbage
collector's reach. Without that, a full (generation-2) collection in a worker walked the ~240,000
long-lived objects they make: 160-750 ms inside a request under the load test, and the first request
of each worker paid for the loading as well (BENCHMARKS.md, "Portal and chat under load: where the
tail came from"). After the freeze a full collection walks only what the worker allocated itself, and
the workers share the master's pages until they write to them.

Fork safety: nothing the warm-up loads opens a connection (Django connects on the first query,
memory.graph.driver creates the Neo4j driver on first use, and the access-note writer and the
`read_beside` pool are started per process id), and `when_ready` still closes the database
connections and the Neo4j driver in the master before the first fork, so that no worker ever shares
a socket with another.
"""
from __future__ import annotations

import gc
from pathlib import Path

preload_app = True
# gunicorn's default line with the time the worker spent on the request: a long client-side wait
# beside a short one here is time spent queueing for a worker, not working.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'


def warm_up() -> None:
    """Load, once, what every worker would otherwise load lazily on its first requests."""
    from django.template import engines
    from django.urls import get_resolver

    from memory.embeddings import get_embeddings
    from memory.extraction.securities import security_info

    get_resolver().url_patterns  # noqa: B018  (imports every view module)
    for name in project_templates():
        engines["django"].get_template(name)  # compiled into the cached loader, shared by the workers
    get_embeddings()  # the model only: encoding here would start the tokenizer's threads before the fork
    security_info("AAPL")  # reads the securities master, and the English word list behind it, once


def project_templates() -> list[str]:
    """The names of the templates in the project's templates/ folders (the pages the portal renders)."""
    from django.conf import settings

    return sorted(str(path.relative_to(directory)) for directory in settings.TEMPLATES[0]["DIRS"]
                  for path in Path(directory).rglob("*.html"))


def release_connections() -> None:
    """Close what the master may hold open, so that no worker inherits a shared socket."""
    from django.db import connections

    from memory.graph.driver import close_driver

    connections.close_all()
    close_driver()


def when_ready(server) -> None:
    """In the master, after the application is preloaded and before the first worker forks."""
    warm_up()
    release_connections()
    gc.collect()  # what loading left behind is freed now, not kept forever by the freeze
    gc.freeze()


def post_fork(server, worker) -> None:
    """Each worker says what it inherited out of the collector's reach (the server log shows the freeze took)."""
    server.log.info("worker %s: %d objects frozen out of the garbage collector", worker.pid, gc.get_freeze_count())
