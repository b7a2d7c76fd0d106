"""Work that an outsider's input could make endless or huge (rendering a PDF, reading an
uploaded spreadsheet) runs here: in child processes with a time and a memory limit.

Every call runs in a child process forked from multiprocessing's fork server, which has
loaded the modules registered with `preload` once: forking it costs milliseconds, and the
child starts single-threaded and clean whatever the web server's threads are doing. The
child runs under an address-space limit (`Limits.memory_mib`) and the parent waits at most
`Limits.timeout` seconds for all the calls of one `run` before killing what is left;
either way the caller gets a LimitExceeded (TimeLimitExceeded, MemoryLimitExceeded) and
says what to do in its own words. The parent only waits on a pipe meanwhile: it neither
grows nor stops answering other requests. What the children logged (warnings and above)
is logged again in this process. The function and its arguments must be picklable (a
module-level function), and so must what it returns; an exception it raises comes back as
a ChildFailed, so expected refusals are better returned as values.
"""

from __future__ import annotations

import logging
import multiprocessing
import resource
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

log = logging.getLogger(__name__)

_preload: list[str] = ["__main__"]
_fork_server: multiprocessing.context.ForkServerContext | None = None


def preload(module: str) -> None:
    """Have the fork server import `module` before it forks its first child (called at
    import time by the modules whose functions run in children)."""
    if module not in _preload:
        _preload.append(module)


@dataclass(frozen=True)
class Limits:
    timeout: float  # seconds for all the calls of one run together
    memory_mib: int  # address space of each child


@dataclass
class Outcome:
    value: Any
    peak_mib: int  # the child's peak resident memory


class LimitExceeded(Exception):
    def __init__(self, limits: Limits) -> None:
        super().__init__(limits)
        self.limits = limits


class TimeLimitExceeded(LimitExceeded):
    pass


class MemoryLimitExceeded(LimitExceeded):
    pass


class ChildFailed(RuntimeError):
    """The function raised in the child (a bug, not a limit)."""


@dataclass
class _Reply:
    value: Any = None
    records: list[tuple[str, int, str]] = field(default_factory=list)
    peak_mib: int = 0
    error: str = ""  # "memory" or the text of an unexpected exception


def run(
    function: Callable[..., Any],
    calls: Iterable[Sequence[Any]],
    limits: Limits,
    *,
    what: str = "work",
) -> list[Outcome]:
    """`function(*args)` for each args of `calls`, each in its own child, side by side
    (a child starts as soon as its args are produced); the outcomes in order."""
    context = _context()
    started = time.monotonic()
    workers = []
    try:
        for args in calls:
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(target=_child, args=(sender, function, tuple(args), limits))
            process.daemon = True
            workers.append((process, receiver))
            process.start()
            sender.close()
        replies = [_wait(receiver, started, limits, what) for _process, receiver in workers]
    finally:
        for process, receiver in workers:
            if process.is_alive():
                process.kill()
            if process.pid is not None:
                process.join()
            receiver.close()
    for reply in replies:
        for name, level, message in reply.records:
            logging.getLogger(name).log(level, "%s", message)
    return [Outcome(reply.value, reply.peak_mib) for reply in replies]


def run_one(function: Callable[..., Any], *args: Any, limits: Limits, what: str = "work") -> Any:
    """The value of `function(*args)` computed in one child."""
    return run(function, [args], limits, what=what)[0].value


def _context() -> multiprocessing.context.ForkServerContext:
    """The fork server context, with the registered modules preloaded (started on first
    use)."""
    global _fork_server
    if _fork_server is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(_preload))
        _fork_server = context
    return _fork_server


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage()))


def _child(sender: Connection, function: Callable[..., Any], args: tuple, limits: Limits) -> None:
    """Runs in the child: limits first, then the function; the reply goes back whole."""
    memory = limits.memory_mib * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(limits.timeout) + 5  # a backstop should the parent be gone
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    collect = _Collect()
    logging.getLogger().addHandler(collect)
    reply = _Reply()
    try:
        reply.value = function(*args)
    except Exception as e:  # noqa: BLE001 - reported to the parent, which raises
        # Out of memory shows as MemoryError in Python code, and as about any error
        # from native code (a failed allocation): the address space reached is the tell.
        if isinstance(e, MemoryError) or _peak_address_space() >= memory * 0.9:
            reply.error = "memory"
        else:
            reply.error = f"{type(e).__name__}: {e}"
    reply.records = collect.records
    reply.peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    try:
        sender.send(reply)
    except MemoryError:
        sender.send(_Reply(error="memory"))


def _peak_address_space() -> int:
    """Bytes: the largest address space this process has had (VmPeak)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmPeak:"):
                return int(line.split()[1]) * 1024
    return 0


def _wait(receiver: Connection, started: float, limits: Limits, what: str) -> _Reply:
    remaining = started + limits.timeout - time.monotonic()
    if not receiver.poll(max(0.0, remaining)):
        log.warning("%s stopped after %g s", what, limits.timeout)
        raise TimeLimitExceeded(limits)
    try:
        reply: _Reply = receiver.recv()
    except EOFError:  # the child died without a word: out of memory in native code
        reply = _Reply(error="memory")
    if reply.error == "memory":
        log.warning("%s went over its %d MiB", what, limits.memory_mib)
        raise MemoryLimitExceeded(limits)
    if reply.error:
        raise ChildFailed(f"{what} failed: {reply.error}")
    return reply
