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

import sys
from pathlib import Path

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

accesslog = "-"
errorlog = "-"
loglevel = "info"
