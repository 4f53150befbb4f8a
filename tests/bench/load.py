"""Load: the portal, the chat with the twin and an import, together, against real servers on loopback.

`make bench BENCH_ARGS="--load ..."` (tests/bench/run.py) calls `run()`, which:

1. seeds a firm of advisors and client users (each client with a few sessions already in memory);
2. starts its own gunicorn (config.wsgi with the Procfile's config/gunicorn_conf.py, on 127.0.0.1, a free
   port, its access log in var/load/access.log) and a real Celery worker on the same Neo4j, Redis and database;
3. starts `manage.py memory_import --defer` of a generated JSONL in parallel, so the worker is busy
   draining the outbox while the users work;
4. drives the users with locust in a child process (`python -m tests.bench.load drive PLAN RESULT`;
   locust monkey-patches the standard library with gevent, which this Django process must not get):
   each user logs in once (django-axes throttles logins), then advisors open their clients' pages
   and clients open their chat, say something (POST /chat/<id>/say) and ask the twin
   (POST /api/clients/<id>/ask, session auth + CSRF), with think time between requests. A warm-up
   after the logins is not counted; the measured window ends after `duration` seconds or
   `max_requests` requests, whichever comes first;
5. lets the worker drain, then checks that nothing was lost: every imported session and every
   acknowledged chat round and answer is in the database exactly once, and every turn of them is
   in Neo4j exactly once.

Machine CPU (busy share of all cores, from /proc/stat) and the CPU seconds each part used (PostgreSQL's
too when it runs on this machine) are measured over the window: on a shared 2-core machine they explain
the latencies. Each endpoint's latency as the users saw it is set beside the time the workers spent on it
(`served_times`), and the requests over 1 s are counted: the tail is told apart from queueing for a worker.
"""
from __future__ import annotations

import json
import math
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tests.bench.cpu import jit_compiler_seconds, neo4j_pid, postgres_seconds, postmaster_pid, process_seconds

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
FIRM = "load"
IMPORT_FIRM = "load-import"
PASSWORD = "load-test-password-2026"
ADVISORS = 4
PAGE = "GET /clients/<id>/ (client page)"
CHAT_PAGE = "GET /chat/<id>/ (chat page)"
SAY = "POST /chat/<id>/say"
ASK = "POST /api/clients/<id>/ask"
LOGIN = "POST /login/"
TARGETS_MS = {PAGE: 150, ASK: 300, SAY: 300}  # the targets: the client page, the twin's answer
# The servers run as a firm runs them (README "Configuration"): DEBUG off, with a key of their own. Loopback has
# no TLS, so Django does not redirect to HTTPS, as behind a proxy that ends TLS and redirects by itself; the
# users' client sends the Secure session and CSRF cookies over plain HTTP, as that proxy would (`drive`).
# The Procfile's gunicorn settings: the app preloaded and warmed in the master, its objects frozen out of the
# garbage collector's reach before the workers fork.
WEB_CONFIG = ROOT / "config" / "gunicorn_conf.py"
PRODUCTION_SETTINGS = {"DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(64), "SECURE_SSL_REDIRECT": "false"}


@dataclass
class Servers:
    web: subprocess.Popen
    worker: subprocess.Popen
    port: int


# ---- orchestration (the Django process) ---------------------------------------------------------


def run(*, duration: float = 60.0, users: int = 20, warm_up: float = 10.0, warm_up_max: float = 300.0,
        max_requests: int = 20_000, web_workers: int = 3, web_threads: int = 1, import_sessions_count: int = 400,
        drain_timeout: float = 900.0) -> dict:
    """Seed, serve, load, drain, verify. Returns the report `report_body()` formats.

    The warm-up lasts `warm_up` seconds and then until Neo4j's JVM has compiled what these requests run
    (`_wait_until_warm`), at most `warm_up_max`: the window measures a server as a firm runs it, for hours.
    """
    from django.utils import timezone

    from memory.models import OutboxEntry
    from tests.bench.corpus import generate

    var = ROOT / "var" / "load"
    var.mkdir(parents=True, exist_ok=True)
    clients = users - ADVISORS
    plan = seed(clients=clients)
    import_file = var / "import.jsonl"
    imported = generate(seed=31, clients=import_sessions_count // 8, sessions_per_client=8,
                        turns_per_session=20, id_prefix="imp").sessions
    import_file.write_text("".join(json.dumps(session) + "\n" for session in imported))
    servers = start_servers(web_workers=web_workers, web_threads=web_threads, log_dir=var)
    plan.update(base_url=f"http://127.0.0.1:{servers.port}", duration=duration, warm_up=warm_up,
                warm_up_max=warm_up_max, max_requests=max_requests)
    plan_file, result_file = var / "plan.json", var / "result.json"
    plan_file.write_text(json.dumps(plan))
    result_file.unlink(missing_ok=True)
    for marker in ("logged-in", "warm", "window-started"):
        (var / marker).unlink(missing_ok=True)
    importer = None
    try:
        driver = subprocess.Popen([PYTHON, "-m", "tests.bench.load", "drive", str(plan_file), str(result_file)],
                                  cwd=ROOT, stdout=open(var / "driver.log", "w"), stderr=subprocess.STDOUT)
        # The import starts when the users have logged in and warmed up, so that it overlaps the window.
        _wait_for(lambda: (var / "logged-in").exists() or driver.poll() is not None, timeout=300,
                  what="the users to log in")
        warmed = _wait_until_warm(var / "warm", minimum=warm_up, maximum=warm_up_max, driver=driver)
        _wait_for(lambda: (var / "window-started").exists() or driver.poll() is not None, timeout=60,
                  what="the window to open")
        cpu = CpuMeter(roles={"gunicorn": servers.web.pid, "celery worker": servers.worker.pid,
                              "locust driver": driver.pid, "neo4j": neo4j_pid()}, postmaster=_local_postmaster())
        import_started, window_opened = time.monotonic(), timezone.now()
        if imported:
            importer = subprocess.Popen(
                [PYTHON, "manage.py", "memory_import", str(import_file), "--firm", IMPORT_FIRM, "--defer"],
                cwd=ROOT, stdout=open(var / "import.log", "w"), stderr=subprocess.STDOUT)
            cpu.add_role("import", importer.pid)
        import_seconds = None
        while driver.poll() is None:
            cpu.sample()
            if importer is not None and import_seconds is None and importer.poll() is not None:
                import_seconds = time.monotonic() - import_started
                _nudge_worker()  # as the beat sweep would: the deferred import's sessions are waiting
            time.sleep(1.0)
        window_cpu = cpu.finish()
        server_times = served_times(var / "access.log", since=window_opened, until=timezone.now())
        drained_in_window = OutboxEntry.objects.filter(processed_at__gte=window_opened,
                                                       processed_at__lte=timezone.now()).count()
        if driver.returncode != 0:
            raise RuntimeError(f"the locust driver failed (exit {driver.returncode}); see {var / 'driver.log'}")
        if importer is not None:
            importer.wait(timeout=drain_timeout)
            if import_seconds is None:
                import_seconds = time.monotonic() - import_started
            if importer.returncode != 0:
                raise RuntimeError(f"memory_import failed (exit {importer.returncode}); see {var / 'import.log'}")
        stop(servers.web)
        result = json.loads(result_file.read_text())
        drain_seconds = wait_for_drain(timeout=drain_timeout)
    finally:
        for process in (importer, servers.web, servers.worker):
            if process is not None:
                stop(process)
    checks = verify(imported=imported, said=result["said"], asked=result["asked"])
    for row in result["rows"]:
        times = sorted(server_times.get(row["endpoint"], []))
        row["server_p50_ms"] = round(_percentile(times, 0.5)) if times else ""
        row["server_p95_ms"] = round(_percentile(times, 0.95)) if times else ""
    return {"result": result, "cpu": window_cpu, "checks": checks,
            "import_seconds": round(import_seconds, 1) if import_seconds is not None else None,
            "imported_sessions": len(imported), "imported_turns": sum(len(s["turns"]) for s in imported),
            "drain_seconds": drain_seconds, "drained_in_window": drained_in_window, "users": users,
            "advisors": ADVISORS, "clients": clients,
            "web_workers": web_workers, "web_threads": web_threads, "duration": duration, "warm_up": warm_up,
            "warmed": warmed, "warm_up_max": warm_up_max, "max_requests": max_requests,
            "database": _database_label()}


_ACCESS_LINE = re.compile(r'\[(?P<at>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" \d+ .* (?P<ms>\d+)ms$')
_ENDPOINTS = ((re.compile(r"^GET /clients/[^/]+/$"), PAGE), (re.compile(r"^GET /chat/[^/]+/$"), CHAT_PAGE),
              (re.compile(r"^POST /chat/[^/]+/say$"), SAY), (re.compile(r"^POST /api/clients/[^/]+/ask$"), ASK))


def served_times(access_log: Path, *, since: datetime, until: datetime) -> dict[str, list[int]]:
    """Endpoint -> the milliseconds gunicorn's workers spent on each of its requests that ended in the window
    (config/gunicorn_conf.py's access log line ends with them). Beside the users' times they split a slow
    answer into work and waiting for a free worker."""
    times: dict[str, list[int]] = {}
    for line in access_log.read_text().splitlines() if access_log.exists() else []:
        match = _ACCESS_LINE.search(line)
        if not match or not since.replace(microsecond=0) <= datetime.strptime(match["at"], "%d/%b/%Y:%H:%M:%S %z") <= until:
            continue
        request = f"{match['method']} {match['path'].split('?')[0]}"
        endpoint = next((name for pattern, name in _ENDPOINTS if pattern.match(request)), None)
        if endpoint:
            times.setdefault(endpoint, []).append(int(match["ms"]))
    return times


def _percentile(ordered: list[int], share: float) -> float:
    """The value below which `share` of the sorted list falls (nearest rank, as locust reports)."""
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def seed(*, clients: int) -> dict:
    """A firm of ADVISORS advisors sharing `clients` client users; each client has 4 sessions in memory.

    Returns the plan the driver needs: who logs in, and which client pages and questions are theirs.
    """
    from advisor.models import Client, Firm, Holding, User
    from advisor.services.importer import import_sessions
    from tests.bench.corpus import generate

    corpus = generate(seed=23, clients=clients, sessions_per_client=4, turns_per_session=16, id_prefix="ld")
    report = import_sessions((json.dumps(s) for s in corpus.sessions), FIRM)
    if report.errors or report.pending:
        raise RuntimeError(f"seeding the load firm failed: {report.errors[:3]}, {report.pending} pending")
    firm = Firm.objects.get(slug=FIRM)
    advisors = []
    for number in range(ADVISORS):
        advisor = User.objects.create_user(f"load-advisor-{number}", password=PASSWORD, role=User.Role.ADVISOR,
                                           firm=firm)
        advisors.append({"username": advisor.username, "clients": []})
    questions: dict[str, list[str]] = {}
    for question in corpus.questions:
        questions.setdefault(question["client_id"], []).append(question["query"])
    plan_clients = []
    for number, client in enumerate(Client.objects.filter(firm=firm).order_by("external_id")):
        advisor = advisors[number % ADVISORS]
        user = User.objects.create_user(f"load-client-{number}", password=PASSWORD, role=User.Role.CLIENT, firm=firm)
        client.user, client.advisor = user, User.objects.get(username=advisor["username"])
        client.save(update_fields=["user", "advisor"])
        Holding.objects.create(client=client, symbol="AAPL", quantity=20)
        Holding.objects.create(client=client, symbol="MSFT", quantity=10)
        advisor["clients"].append(client.external_id)
        plan_clients.append({"username": user.username, "client_id": client.external_id,
                             "questions": questions.get(client.external_id) or ["What is my retirement goal?"]})
    return {"password": PASSWORD, "advisors": advisors, "clients": plan_clients}


def start_servers(*, web_workers: int, log_dir: Path, web_threads: int = 1) -> Servers:
    """gunicorn on a free loopback port and a Celery worker on every queue, as the Procfile runs them.
    `web_threads` above 1 makes gunicorn's workers gthread workers with that many threads each."""
    port = _free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "LOG_LEVEL": "WARNING", **PRODUCTION_SETTINGS}
    venv_bin = Path(PYTHON).parent
    web = subprocess.Popen(
        [str(venv_bin / "gunicorn"), "config.wsgi", "-c", str(WEB_CONFIG), "--bind", f"127.0.0.1:{port}", "--workers", str(web_workers),
         "--threads", str(web_threads), "--timeout", "60",
         "--access-logfile", str(log_dir / "access.log")], cwd=ROOT, env=env, stdout=open(log_dir / "gunicorn.log", "w"),
        stderr=subprocess.STDOUT, start_new_session=True)
    worker = subprocess.Popen(
        [str(venv_bin / "celery"), "-A", "config", "worker", "--loglevel=WARNING", "--concurrency=2",
         "-Q", "default,ingest,quotes,digests", "--hostname", f"load-{port}@%h"],
        cwd=ROOT, env=env, stdout=open(log_dir / "worker.log", "w"), stderr=subprocess.STDOUT, start_new_session=True)
    servers = Servers(web=web, worker=worker, port=port)

    def web_up() -> bool:
        if web.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({web.returncode}); see {log_dir / 'gunicorn.log'}")
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).status == 200
        except OSError:
            return False

    try:
        _wait_for(web_up, timeout=120, what="gunicorn to answer /healthz")
    except BaseException:
        stop(web)
        stop(worker)
        raise
    return servers


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group we started (gunicorn's or celery's master and its children), then wait."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_for_drain(*, timeout: float) -> float:
    """Seconds until the outbox has nothing pending, nudging the worker as the beat sweep would."""
    from memory.models import OutboxEntry

    started = time.monotonic()
    last_nudge = 0.0
    while OutboxEntry.objects.filter(status=OutboxEntry.Status.PENDING).exists():
        if time.monotonic() - started > timeout:
            pending = OutboxEntry.objects.filter(status=OutboxEntry.Status.PENDING).count()
            raise RuntimeError(f"the worker did not drain the outbox in {timeout:.0f} s ({pending} pending)")
        if time.monotonic() - last_nudge > 10:
            _nudge_worker()
            last_nudge = time.monotonic()
        time.sleep(1.0)
    return round(time.monotonic() - started, 1)


def verify(*, imported: list[dict], said: list[dict], asked: list[dict]) -> dict:
    """Lost or doubled writes: each acknowledged write exactly once in the database and its turns once in Neo4j."""
    from django.db.models import Count

    from advisor.models import ConversationSession, ConversationTurn
    from memory.models import OutboxEntry
    from twin.models import Advice, ChatRound

    problems: list[str] = []
    # Imported sessions: once each, with all their turns.
    expected_turns = {(s["client_id"], s["session_id"], t["turn_id"]) for s in imported for t in s["turns"]}
    rows = ConversationSession.objects.filter(client__firm__slug=IMPORT_FIRM).values(
        "client__external_id", "external_id").annotate(n=Count("id"))
    stored_sessions = {(r["client__external_id"], r["external_id"]): r["n"] for r in rows}
    for session in imported:
        if stored_sessions.get((session["client_id"], session["session_id"]), 0) != 1:
            problems.append(f"imported session {session['session_id']}: "
                            f"{stored_sessions.get((session['client_id'], session['session_id']), 0)} rows")
    db_turns = ConversationTurn.objects.filter(session__client__firm__slug=IMPORT_FIRM).count()
    if db_turns != len(expected_turns):
        problems.append(f"imported turns in the database: {db_turns}, expected {len(expected_turns)}")
    graph_turns = _graph_turn_counts(IMPORT_FIRM)
    wrong = {key: n for key, n in graph_turns.items() if n != 1}
    missing = expected_turns - set(graph_turns)
    extra = set(graph_turns) - expected_turns
    problems += [f"imported turn {key} in Neo4j {n} times" for key, n in list(wrong.items())[:5]]
    if missing or extra:
        problems.append(f"imported turns: {len(missing)} missing from Neo4j, {len(extra)} unexpected there")
    # Chat rounds the server acknowledged (302 back to the chat): once each, their words once in Neo4j.
    chat_turns = _graph_turn_counts(FIRM, session_prefix="chat-")
    refused = 0
    for item in said:
        rounds = list(ChatRound.objects.filter(conversation__client__firm__slug=FIRM,
                                               conversation__client__external_id=item["client_id"],
                                               text=item["text"]).select_related("session"))
        if len(rounds) != 1:
            problems.append(f"chat round {item['text']!r}: {len(rounds)} rows")
            continue
        if rounds[0].session is None:
            refused += 1
            continue
        turns = [n for (client, session, _), n in chat_turns.items()
                 if client == item["client_id"] and session == rounds[0].session.external_id]
        if turns != [1]:
            problems.append(f"chat round {item['text']!r}: its turn is in Neo4j {sum(turns)} times")
    all_rounds = ChatRound.objects.filter(conversation__client__firm__slug=FIRM).count()
    # Answers the API returned (201 with an advice id): each stored once.
    advice_ids = [item["advice_id"] for item in asked]
    stored_advice = Advice.objects.filter(id__in=advice_ids).count()
    if stored_advice != len(set(advice_ids)) or len(set(advice_ids)) != len(advice_ids):
        problems.append(f"answers: {len(advice_ids)} returned, {stored_advice} stored")
    # Every stored answer's note (chat answers and API answers alike), written by the drain: once each.
    note_ids = list(Advice.objects.filter(client__firm__slug=FIRM).values_list("memory_id", flat=True))
    notes_in_graph = _graph_note_counts(note_ids)
    if sorted(notes_in_graph.values()) != [1] * len(note_ids):
        problems.append(f"advice notes: {len(note_ids)} stored answers, {len(notes_in_graph)} notes in Neo4j, "
                        f"{sum(1 for n in notes_in_graph.values() if n > 1)} doubled")
    failed = OutboxEntry.objects.filter(status=OutboxEntry.Status.FAILED).count()
    if failed:
        problems.append(f"{failed} outbox entries failed")
    not_stored = ConversationSession.objects.exclude(memory_state__status=ConversationSession.MemoryStatus.STORED).count()
    if not_stored:
        problems.append(f"{not_stored} sessions not stored in memory")
    return {"problems": problems, "imported_sessions_in_db": sum(stored_sessions.values()),
            "imported_turns_in_neo4j": sum(graph_turns.values()), "said": len(said),
            "chat_rounds_in_db": all_rounds, "refused_rounds": refused,
            "chat_turns_in_neo4j": sum(chat_turns.values()), "answers": len(advice_ids),
            "answers_in_db": stored_advice, "advice_notes": len(note_ids),
            "advice_notes_in_neo4j": sum(notes_in_graph.values())}


def _graph_note_counts(note_ids: list[str]) -> dict[str, int]:
    """note id -> how many :Note nodes Neo4j holds with it."""
    from memory.graph import driver as graph_driver

    return dict(graph_driver.read(lambda tx: tx.run(
        "UNWIND $ids AS id MATCH (n:Note {id: id}) RETURN id, count(n) AS n", ids=note_ids).values()))


def _graph_turn_counts(firm: str, session_prefix: str = "") -> dict[tuple[str, str, str], int]:
    """(client, session, turn) -> how many :Turn nodes Neo4j holds for it, in one firm."""
    from memory.graph import driver as graph_driver

    def read(tx):
        return [(r["client"], r["session"], r["turn"], r["n"]) for r in tx.run(
            "MATCH (t:Turn {firm_id: $firm}) WHERE t.session_id STARTS WITH $prefix "
            "RETURN t.client_id AS client, t.session_id AS session, t.turn_id AS turn, count(*) AS n",
            firm=firm, prefix=session_prefix)]

    return {(client, session, turn): n for client, session, turn, n in graph_driver.read(read)}


def _nudge_worker() -> None:
    from memory.tasks import queue_outbox_drain

    queue_outbox_drain()


def _database_label() -> str:
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    return {"sqlite3": "SQLite (WAL)", "postgresql": "PostgreSQL"}.get(engine, engine)


def _local_postmaster() -> int | None:
    """The PostgreSQL server's postmaster when it runs on this machine (its CPU is counted), else None."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    try:
        return postmaster_pid()
    except Exception:  # a server elsewhere (psutil cannot see its backend): not counted, and said so
        return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Neo4j counts as warm when its JIT compiler used less than this share of its CPU over the last
# WARM_SAMPLE_SECONDS of load. Right after a start it is about half (BENCHMARKS.md, "Neo4j's JVM warming up"),
# and a window that opens then measures the JVM compiling Neo4j's code, not what a request costs a running server.
WARM_JIT_SHARE = 0.2
WARM_SAMPLE_SECONDS = 15.0


def _wait_until_warm(signal_file: Path, *, minimum: float, maximum: float, driver: subprocess.Popen) -> dict:
    """Let the users' load run until Neo4j is warm (WARM_JIT_SHARE), then tell the driver (`signal_file`).

    At least `minimum` seconds, at most `maximum`; an external Neo4j (no threads to read) gets the minimum.
    Returns how long the warm-up took and the JIT's share in its last sample.
    """
    started, pid, share = time.monotonic(), neo4j_pid(), None
    while pid is not None and driver.poll() is None and time.monotonic() - started < maximum:
        total, jit = process_seconds(pid), jit_compiler_seconds(pid)
        time.sleep(WARM_SAMPLE_SECONDS)
        used = process_seconds(pid) - total
        share = (jit_compiler_seconds(pid) - jit) / used if used > 0 else 0.0
        if share < WARM_JIT_SHARE and time.monotonic() - started >= minimum:
            break
    signal_file.touch()
    return {"seconds": round(max(minimum, time.monotonic() - started)), "jit_share": share}


def _wait_for(ready, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting {timeout:.0f} s for {what}")
        time.sleep(0.5)


class CpuMeter:
    """Busy share of the machine's cores (/proc/stat) and CPU seconds of each part, over the window.

    PostgreSQL (`postmaster`) is counted whole: the postmaster, its live backends and the ones it has
    reaped, so a backend that ends between two samples is still counted."""

    def __init__(self, roles: dict[str, int | None], postmaster: int | None = None) -> None:
        import psutil

        self._psutil = psutil
        self._start_machine = _machine_ticks()
        self._start_load = os.getloadavg()[0]
        self._roles: dict[str, list] = {}
        self._peak_rss: dict[str, int] = {}  # bytes: the most each part (process and children) held at once
        self._peak_load = self._start_load
        self._postmaster = postmaster
        self._postgres = [postgres_seconds(postmaster)] * 2 if postmaster else None  # [at start, latest]
        self._neo4j = roles.get("neo4j")
        self._jit_start = jit_compiler_seconds(self._neo4j) if self._neo4j else None
        for name, pid in roles.items():
            if pid is not None:
                self.add_role(name, pid)

    def add_role(self, name: str, pid: int) -> None:
        """Track the process and its children; CPU of children that end is taken at their last sample."""
        try:
            root = self._psutil.Process(pid)
        except self._psutil.NoSuchProcess:
            return
        self._roles[name] = [root, {}]
        self.sample()
        self._roles[name].append(dict(self._roles[name][1]))  # the CPU already spent when the window opened

    def sample(self) -> None:
        self._peak_load = max(self._peak_load, os.getloadavg()[0])
        if self._postgres is not None:
            try:
                self._postgres[1] = postgres_seconds(self._postmaster)
            except OSError:  # the server stopped: keep what it had used
                pass
        for name, (root, seen, *_) in self._roles.items():
            try:
                processes = [root, *root.children(recursive=True)]
            except self._psutil.NoSuchProcess:
                continue
            rss = 0
            for process in processes:
                try:
                    times = process.cpu_times()
                    seen[process.pid] = times.user + times.system
                    rss += process.memory_info().rss
                except self._psutil.NoSuchProcess:
                    pass
            self._peak_rss[name] = max(self._peak_rss.get(name, 0), rss)

    def finish(self) -> dict:
        self.sample()
        busy_end, total_end = _machine_ticks()
        busy_start, total_start = self._start_machine
        roles = {name: round(sum(seen.values()) - sum(at_start.values()), 1)
                 for name, (root, seen, at_start) in self._roles.items()}
        if self._postgres is not None:
            roles["postgresql"] = round(self._postgres[1] - self._postgres[0], 1)
        jit = round(jit_compiler_seconds(self._neo4j) - self._jit_start, 1) if self._jit_start is not None else None
        return {"neo4j_jit_seconds": jit,
                "machine_busy_percent": round(100 * (busy_end - busy_start) / max(1, total_end - total_start)),
                "peak_load_1min": round(self._peak_load, 1), "cores": os.cpu_count(), "cpu_seconds": roles,
                "peak_rss_mb": {name: round(rss / 2**20) for name, rss in self._peak_rss.items()}}


def _machine_ticks() -> tuple[int, int]:
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


# ---- the users (a child process: locust patches the standard library with gevent) ---------------


def drive(plan_path: str, result_path: str) -> None:
    """Log every user in once, warm up, then load for the window; write stats and acknowledged writes."""
    import http.cookiejar

    import gevent
    from gevent.event import Event
    from locust import HttpUser, between, task
    from locust.env import Environment

    # The servers' session and CSRF cookies are Secure (DEBUG off, PRODUCTION_SETTINGS) and loopback has no
    # TLS: this process stands for the proxy that would carry them, so its cookie jars send them over HTTP
    # (requests builds a fresh jar per request, so the policy is changed for the process, which only drives).
    http.cookiejar.DefaultCookiePolicy.return_ok_secure = lambda policy, cookie, request: True
    plan = json.loads(Path(plan_path).read_text())
    marker = Path(plan_path).with_name("window-started")
    logged_in_marker, warm = Path(plan_path).with_name("logged-in"), Path(plan_path).with_name("warm")
    advisors, clients = list(plan["advisors"]), list(plan["clients"])
    total_users = len(advisors) + len(clients)
    logged_in: list[str] = []
    login_failures: list[str] = []
    all_in = Event()
    said: list[dict] = []  # rounds the server acknowledged, warm-up included: all are checked afterwards
    asked: list[dict] = []

    class SignedIn(HttpUser):
        abstract = True
        host = plan["base_url"]
        wait_time = between(0.5, 1.5)  # think time between a user's requests

        def login(self, username: str) -> None:
            self.client.get("/login/", name="GET /login/")
            response = self.client.post(
                "/login/", name=LOGIN, allow_redirects=False,
                data={"username": username, "password": plan["password"],
                      "csrfmiddlewaretoken": self.client.cookies.get("csrftoken", "")})
            if response.status_code != 302 or "sessionid" not in self.client.cookies:
                login_failures.append(f"{username}: {response.status_code}")
            logged_in.append(username)
            if len(logged_in) == total_users:
                all_in.set()
            all_in.wait()

        def csrf(self) -> str:
            return self.client.cookies.get("csrftoken", "")

    class Advisor(SignedIn):
        fixed_count = len(advisors)

        def on_start(self) -> None:
            me = advisors.pop()
            self.clients = me["clients"]
            self.login(me["username"])

        @task
        def client_page(self) -> None:
            client_id = self.clients[int(time.monotonic() * 1000) % len(self.clients)]
            # Not following redirects: a lost session's login page answers 200 and names the client in ?next=.
            with self.client.get(f"/clients/{client_id}/", name=PAGE, catch_response=True,
                                 allow_redirects=False) as response:
                if response.status_code != 200 or client_id.encode() not in response.content:
                    response.failure(f"client page {client_id}: {response.status_code}")

    class ClientUser(SignedIn):
        fixed_count = len(clients)

        def on_start(self) -> None:
            me = clients.pop()
            self.client_id, self.questions, self.username = me["client_id"], me["questions"], me["username"]
            self.said = self.asked = 0
            self.login(me["username"])

        def question(self) -> str:
            return self.questions[(self.said + self.asked) % len(self.questions)]

        @task(2)
        def chat_page(self) -> None:
            with self.client.get(f"/chat/{self.client_id}/", name=CHAT_PAGE, catch_response=True) as response:
                # A lost session would be redirected to the login page, which answers 200 too.
                if response.status_code != 200 or f"/chat/{self.client_id}/say".encode() not in response.content:
                    response.failure(f"chat page: {response.status_code}")

        @task(1)
        def say(self) -> None:
            self.said += 1
            # A unique tail makes each acknowledged round findable in the database and in Neo4j.
            text = f"{self.question()} (load {self.username} #{self.said})"
            with self.client.post(f"/chat/{self.client_id}/say", name=SAY, allow_redirects=False,
                                  data={"text": text, "csrfmiddlewaretoken": self.csrf()},
                                  catch_response=True) as response:
                if response.status_code == 302 and f"/chat/{self.client_id}/" in response.headers.get("Location", ""):
                    said.append({"client_id": self.client_id, "text": text})
                else:
                    response.failure(f"say: {response.status_code}")

        @task(1)
        def ask(self) -> None:
            self.asked += 1
            with self.client.post(f"/api/clients/{self.client_id}/ask", name=ASK,
                                  json={"question": self.question(), "channel": "chat"},
                                  headers={"X-CSRFToken": self.csrf(), "Referer": plan["base_url"] + "/"},
                                  catch_response=True) as response:
                advice_id = response.json().get("advice_id") if response.status_code == 201 else None
                if advice_id:
                    asked.append({"advice_id": advice_id})
                else:
                    response.failure(f"ask: {response.status_code} {response.text[:200]}")

    environment = Environment(user_classes=[Advisor, ClientUser])
    timings: list[tuple[float, str, float]] = []  # (start, endpoint, ms) of each request in the window
    window_open = Event()

    def on_request(*, name: str, response_time: float, start_time: float | None = None, **_: object) -> None:
        if window_open.is_set() and start_time is not None:
            timings.append((round(start_time, 3), name, round(response_time, 1)))

    environment.events.request.add_listener(on_request)
    runner = environment.create_local_runner()
    runner.start(total_users, spawn_rate=total_users)
    if not all_in.wait(timeout=300):
        runner.quit()
        raise SystemExit(f"only {len(logged_in)} of {total_users} users logged in within 300 s")
    logins = _stats_rows(environment.stats)
    logged_in_marker.touch()
    warm_up_started = time.monotonic()
    # The warm-up: at least `warm_up` s, then until the orchestrator has seen Neo4j warm (`_wait_until_warm`).
    while time.monotonic() - warm_up_started < plan["warm_up"] or (
            not warm.exists() and time.monotonic() - warm_up_started < plan["warm_up_max"]):
        gevent.sleep(0.5)
    environment.stats.reset_all()
    said_before, asked_before = len(said), len(asked)
    window_open.set()
    marker.touch()
    started = time.monotonic()
    while time.monotonic() - started < plan["duration"] and environment.stats.total.num_requests < plan["max_requests"]:
        gevent.sleep(0.2)
    elapsed = time.monotonic() - started
    rows = _stats_rows(environment.stats, seconds=elapsed)
    window_open.clear()
    runner.quit()
    # Every request of the window with its start time: the tail is read against the server's own times.
    Path(result_path).with_name("requests.jsonl").write_text("".join(json.dumps(t) + "\n" for t in timings))
    Path(result_path).write_text(json.dumps({
        "seconds": round(elapsed, 1), "rows": rows, "logins": logins, "login_failures": login_failures,
        "said": said, "asked": asked, "said_in_window": len(said) - said_before,
        "asked_in_window": len(asked) - asked_before,
        "total_requests": sum(row["requests"] for row in rows), "total_failures": sum(row["failures"] for row in rows),
        "over_1s": sum(1 for _start, _name, ms in timings if ms > 1000),
        "errors": [{"name": e.name, "error": str(e.error), "count": e.occurrences}
                   for e in environment.stats.errors.values()]}))


def _stats_rows(stats, seconds: float | None = None) -> list[dict]:
    rows = []
    for (name, _method), entry in sorted(stats.entries.items()):
        if not entry.num_requests:
            continue
        rows.append({"endpoint": name, "requests": entry.num_requests, "failures": entry.num_failures,
                     "requests_per_second": round(entry.num_requests / seconds, 1) if seconds else "",
                     "p50_ms": round(entry.get_response_time_percentile(0.5)),
                     "p95_ms": round(entry.get_response_time_percentile(0.95)),
                     "max_ms": round(entry.max_response_time)})
    return rows


# ---- the report ---------------------------------------------------------------------------------


def _web_server(report: dict) -> str:
    threads = report.get("web_threads", 1)
    if threads > 1:
        return f"{report['web_workers']} gthread workers x {threads} threads"
    return f"{report['web_workers']} sync workers"


def report_body(report: dict) -> str:
    from tests.bench.report import percent, table

    result, cpu, checks = report["result"], report["cpu"], report["checks"]
    rows = result["rows"]
    for row in rows:
        target = TARGETS_MS.get(row["endpoint"])
        row["target_p95_ms"] = target or ""
        row["met"] = ("yes" if row["p95_ms"] < target and not row["failures"] else "no") if target else ""
    total_rps = round(result["total_requests"] / result["seconds"], 1)
    lost = "none" if not checks["problems"] else "; ".join(checks["problems"][:10])
    imported = (f"{checks['imported_sessions_in_db']} imported sessions in the database and "
                f"{checks['imported_turns_in_neo4j']} of their turns in Neo4j, each exactly once; "
                if report["imported_sessions"] else "")
    parts = ", ".join(f"{name} {seconds} s" for name, seconds in cpu["cpu_seconds"].items())
    per_request = ", ".join(f"{name} {round(1000 * seconds / max(1, result['total_requests']))} ms"
                            for name, seconds in cpu["cpu_seconds"].items() if name in ("gunicorn", "postgresql", "neo4j"))
    busy_seconds = cpu["machine_busy_percent"] / 100 * cpu["cores"] * result["seconds"]
    others = max(0.0, busy_seconds - sum(cpu["cpu_seconds"].values()))
    rss = ", ".join(f"{name} {mb} MB" for name, mb in cpu.get("peak_rss_mb", {}).items()) or "not sampled"
    return (
        f"{report['users']} signed-in users at once on loopback ({report['advisors']} advisors opening their "
        f"clients' pages; {report['clients']} clients opening their chat (2 of 4 requests), saying something "
        "to the twin (POST /chat/<id>/say, 1 of 4) and asking it over the JSON API with their session and CSRF "
        "token (POST /api/clients/<id>/ask, 1 of 4)), 0.5-1.5 s think time per user, each user logged in once. "
        f"gunicorn (config.wsgi, {_web_server(report)}) and a Celery worker (concurrency 2) "
        f"started by the bench, with DEBUG off (as a firm runs them); database: {report['database']}; the "
        "deterministic composer (no LLM). "
        f"Measured window: {result['seconds']} s after a {report['warmed']['seconds']} s warm-up "
        f"(at least {report['warm_up']:.0f} s, then until Neo4j's JIT compiler used under {WARM_JIT_SHARE:.0%} of its "
        f"CPU over {WARM_SAMPLE_SECONDS:.0f} s: {percent(report['warmed']['jit_share'])} in the last sample, at most "
        f"{report['warm_up_max']:.0f} s); the window is bounded at {report['duration']:.0f} s and "
        f"{report['max_requests']:,} requests. "
        + (f"During it `manage.py memory_import --defer` recorded {report['imported_sessions']} sessions "
           f"({report['imported_turns']} turns, {report['import_seconds']} s) for the worker to drain besides "
           "every chat round" if report["imported_sessions"] else "No import: the worker drains the chat rounds only")
        + f"; it stored {report['drained_in_window']} sessions during the window, and the outbox was empty "
          f"{report['drain_seconds']} s after it.\n\n"
        + f"Throughput: {total_rps} requests/s, {result['total_failures']} errors in {result['total_requests']:,} "
        f"requests; logins: {len(result['login_failures'])} failed.\n\n"
        + table(rows, ["endpoint", "requests", "failures", "requests_per_second", "p50_ms", "p95_ms", "max_ms",
                       "server_p50_ms", "server_p95_ms", "target_p95_ms", "met"])
        + f"\n\n`p50_ms`..`max_ms`: as the users saw them; `server_*`: the time a gunicorn worker spent on the "
          "request (its access log), without the wait for a free worker. Requests over 1 s: "
          f"{result.get('over_1s', 'not counted')}."
        + f"\n\nLost or doubled writes: {lost}. Checked after the drain: {imported}{checks['said']} acknowledged chat rounds (warm-up included), each once in the "
          f"database ({checks['chat_rounds_in_db']} rounds in all: the others were said by requests still in flight "
          f"when the window closed; {checks['refused_rounds']} refused by the screen) with its words once in Neo4j "
          f"({checks['chat_turns_in_neo4j']} chat turns); "
          f"{checks['answers']} answers the API returned, {checks['answers_in_db']} stored; "
          f"{checks['advice_notes']} stored answers (chat and API) and {checks['advice_notes_in_neo4j']} of their "
          "notes in Neo4j.\n\n"
          f"CPU over the window: the machine's {cpu['cores']} cores were {cpu['machine_busy_percent']}% busy "
          f"(1-minute load average up to {cpu['peak_load_1min']}, other engineers' work included); CPU seconds "
          f"spent: {parts}; the rest of the machine (other work) about {others:.0f} s. Per request on average: "
          f"{per_request}" + (" (PostgreSQL not counted: not on this machine)" if report["database"] == "PostgreSQL"
                              and "postgresql" not in cpu["cpu_seconds"] else "")
          + (f". Of Neo4j's CPU seconds, {cpu['neo4j_jit_seconds']} s were its JVM compiling hot code (not a "
             "cost of each request: it falls as the server warms up)" if cpu.get("neo4j_jit_seconds") is not None else "")
          + ". The latencies above "
          "are wall-clock times on that machine.\n\n"
          f"Peak memory (RSS, each part with its child processes, sampled through the window): {rss}."
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "drive":
        drive(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: python -m tests.bench.load drive PLAN.json RESULT.json (run.py --load runs the rest)")
