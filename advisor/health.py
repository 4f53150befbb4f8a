"""Health of every part the product needs: relational DB, Neo4j, Redis and a live Celery worker.

Anyone may ask which parts are up (load balancers do); why a part is down (addresses, driver
errors, worker names) is for the log and for staff only, since it maps the network for an attacker.
"""
from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db import connection

from advisor.models import User
from memory.graph import driver as graph_driver

logger = logging.getLogger(__name__)


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _neo4j() -> str:
    graph_driver.ping()
    return "ok"


def _redis() -> str:
    redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
    return "ok"


def _celery() -> str:
    from celery import current_app as app  # the project's app (config/celery.py), without importing config

    # limit=1: answer as soon as one worker replies, instead of always waiting out the timeout.
    replies = app.control.ping(timeout=1.5, limit=1) or []
    if not replies:
        raise RuntimeError("no Celery worker answered within 1.5 s")
    return f"ok ({next(iter(replies[0]))} answered)"


CHECKS = {"database": _database, "neo4j": _neo4j, "redis": _redis, "celery": _celery}


def check_health() -> dict[str, dict[str, str]]:
    """Each part's status; a failing part says why (the message names the part)."""
    results: dict[str, dict[str, str]] = {}
    for name, check in CHECKS.items():
        if name == "celery" and results.get("redis", {}).get("status") != "up":
            results[name] = {"status": "down", "detail": "cannot ask workers: Redis is down"}
            continue
        try:
            results[name] = {"status": "up", "detail": check()}
        except Exception as error:  # a health check reports every failure, whatever its type
            results[name] = {"status": "down", "detail": f"{type(error).__name__}: {error}"[:500]}
            logger.warning("health check: %s is down: %s", name, results[name]["detail"])
    return results


def may_see_details(user) -> bool:
    """Staff and compliance officers may read why a part is down; everyone else only that it is."""
    return user.is_authenticated and (user.is_staff or getattr(user, "role", None) == User.Role.COMPLIANCE)


def public_view(parts: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """Each part's status alone."""
    return {name: {"status": part["status"]} for name, part in parts.items()}
