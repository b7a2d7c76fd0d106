"""The largest badge batch (TRACKER_BADGE_MAX_BATCH, 5,000) through the production
command: gunicorn started with the repository's gunicorn.conf.py, an organiser logged in
over HTTP (CSRF on), the batch downloaded with `POST /events/<slug>/badges`.

    .venv/bin/python benchmarks/badges_http.py [--count 5000] [--layout a4-8] \
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--port 5131]

Makes a scratch database (SQLite in a temporary folder, or a scratch PostgreSQL database
beside the one named), one event and --count confirmed registrations through the real
registration service (which stores each QR image), then times the request. Prints the
worker timeout gunicorn.conf.py gave, the status, the time, the size and pages of the PDF,
and whether gunicorn killed a worker (--keep keeps the temporary folder and gunicorn's
log, which says how long the rendering itself took). Not a test: one run, by hand.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

import httpx  # noqa: E402
from pypdf import PdfReader  # noqa: E402

from benchmarks.harness import event_spec, person, scratch_database, tail  # noqa: E402

PASSWORD = "a long enough password for the benchmark"  # noqa: S105


def prepare(url: str, count: int) -> str:
    from sqlalchemy.orm import Session as DbSession

    from tracker import create_app
    from tracker.auth.services import create_user
    from tracker.cli import upgrade_database
    from tracker.events.services import create_event
    from tracker.models import Role
    from tracker.registration.services import register

    app = create_app({"ENV_NAME": "testing", "DATABASE_URL": url, "SERVER_NAME": None})
    upgrade_database(app.extensions["db"].engine)
    started = time.perf_counter()
    with app.test_request_context():
        db = DbSession(app.extensions["db"].engine, expire_on_commit=False)
        spec = event_spec("bench-badges-http", ())
        spec.capacity = count
        event = create_event(db, spec)
        create_user(db, "orga@bench.example", PASSWORD, Role.ORGANISER, [event])
        for n in range(count):
            register(db, event, person(n))
        db.commit()
        db.close()
    app.extensions["db"].engine.dispose()
    print(f"{count} registrations made in {time.perf_counter() - started:.1f} s")
    return event.slug


class Browser:
    """The session cookie is Secure in production: kept here, sent over plain HTTP."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=900)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, url: str, **kwargs) -> httpx.Response:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = self.http.request(method, url, headers={"Cookie": cookie}, **kwargs)
        for header in response.headers.get_list("set-cookie"):
            name, value = header.split(";", 1)[0].split("=", 1)
            self.cookies[name.strip()] = value
        return response

    def csrf(self, url: str) -> str:
        page = self.request("GET", url)
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--layout", default="a4-8")
    parser.add_argument("--database-url")
    parser.add_argument("--port", type=int, default=5131)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="tracker-badges-http-"))
    with scratch_database(args.database_url, folder) as url:
        slug = prepare(url, args.count)
        base = f"http://127.0.0.1:{args.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
        env.update(
            TRACKER_ENV="production",
            TRACKER_SECRET_KEY=secrets.token_hex(32),
            TRACKER_DATABASE_URL=url,
            TRACKER_INSTANCE_PATH=str(folder / "instance"),
            TRACKER_MAIL_OUTBOX=str(folder / "outbox"),
            TRACKER_BASE_URL=base,
            TRACKER_BIND=f"127.0.0.1:{args.port}",
        )
        settings = subprocess.run(  # noqa: S603 - fixed command
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--print-config"],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        timeout = re.search(r"^timeout\s+= (\d+)", settings, re.M).group(1)
        log_path = folder / "gunicorn.log"
        log = log_path.open("wb")
        server = subprocess.Popen(  # noqa: S603 - the README's command
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "tracker:create_app()"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"gunicorn did not start:\n{tail(log_path)}")
                try:
                    if httpx.get(f"{base}/login", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            browser = Browser(base)
            token = browser.csrf("/login")
            browser.request(
                "POST",
                "/login",
                data={"email": "orga@bench.example", "password": PASSWORD, "csrf_token": token},
            )
            token = browser.csrf(f"/events/{slug}/badges")
            print(f"gunicorn worker timeout from gunicorn.conf.py: {timeout} s")
            started = time.perf_counter()
            response = browser.request(
                "POST", f"/events/{slug}/badges", data={"layout": args.layout, "csrf_token": token}
            )
            elapsed = time.perf_counter() - started
            kind = response.headers.get("content-type", "")
            pages = ""
            if kind.startswith("application/pdf"):
                pages = f", {len(PdfReader(io.BytesIO(response.content)).pages)} pages"
            print(
                f"POST /events/<slug>/badges ({args.count} badges, {args.layout}): "
                f"{response.status_code} {kind} in {elapsed:.1f} s, "
                f"{len(response.content) / 1e6:.1f} MB{pages}"
            )
            killed = "WORKER TIMEOUT" in log_path.read_text(errors="replace")
            print(f"worker killed by gunicorn's timeout: {'yes' if killed else 'no'}")
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()
            if args.keep:
                print(f"kept: {folder}")
            else:
                shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
