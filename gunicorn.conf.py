"""gunicorn's settings for tracker, read from the same TRACKER_* variables as the app:

    gunicorn -c gunicorn.conf.py 'tracker:create_app()'

(gunicorn also reads ./gunicorn.conf.py by itself when started from this folder). A
worker that answers nothing for `timeout` seconds is killed, and its request ends in a
bare error: the timeout is kept above the app's own limits (TRACKER_PDF_TIMEOUT,
TRACKER_IMPORT_TIMEOUT) with room for the rest of the request, so that the app stops
its long work first and says why. The forwarded headers are the app's business
(TRACKER_PROXY_COUNT): gunicorn trusts none of them itself.

gunicorn serves requests only: the background jobs (e-mails) are run by `tracker worker`,
its own process started beside it with the same TRACKER_* variables (TRACKER_QUEUE_URL
shared: redis://... with several hosts).
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import config as _tracker_config  # noqa: E402

_server = _tracker_config.server_settings()

wsgi_app = "tracker:create_app()"
proc_name = "tracker"
bind = _server["bind"]  # TRACKER_BIND, default 127.0.0.1:8000 (behind a reverse proxy)
workers = _server["workers"]  # TRACKER_WORKERS, default 2
worker_class = "sync"
# Above TRACKER_PDF_TIMEOUT and TRACKER_IMPORT_TIMEOUT, whatever they are.
timeout = _server["timeout"]
graceful_timeout = timeout  # a restart lets a long request finish
keepalive = 5

# One rule for the client's address and scheme: the app's (TRACKER_PROXY_COUNT).
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}

# The request line and headers' limits (gunicorn's defaults, said here): a longer
# request line is answered 414, too many or too long headers 431.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190

# No control socket ($HOME/.gunicorn/gunicorn.ctl, the same for every gunicorn of the
# account): the server is managed with signals.
control_socket_disable = True

# The app writes one line per request itself (its route, never the path as sent, which
# can hold a private link's token; its request id; its account id): gunicorn's own
# access log would repeat the path and query string as sent.
accesslog = None
errorlog = "-"
loglevel = "info"

# /metrics adds up the figures of every worker: prometheus_client's multiprocess mode
# keeps them in files in PROMETHEUS_MULTIPROC_DIR, which must be set before a worker
# imports it. Each gunicorn gets a folder of its own (two on one host would add up each
# other's), emptied at start; a dead worker's gauges are dropped.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
_own_metrics_dir = not _metrics_dir
if not _metrics_dir:
    _metrics_dir = tempfile.mkdtemp(prefix="tracker-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir


def on_starting(server: Any) -> None:
    folder = Path(str(_metrics_dir))
    folder.mkdir(parents=True, exist_ok=True)
    for leftover in folder.glob("*.db"):  # figures of an earlier run
        leftover.unlink()


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def on_exit(server: Any) -> None:
    if _own_metrics_dir:
        shutil.rmtree(str(_metrics_dir), ignore_errors=True)
