"""Running a warehouse command so that Ctrl-C stops it within a moment and leaves no half state.

The command runs in a worker thread while the main thread waits. SIGINT is delivered to the
main thread only: its handler refuses every later commit (:func:`dip_sim.transaction.commit`)
and interrupts the statement running on every connection opened through
:func:`pipelines.warehouse.connect`; the main thread repeats the interrupt until the worker
has ended, so a worker busy in Python at the first press (reading a file) stops at one of its
next statements, and at its commit at the latest. The worker's transactions roll back on the
error, then :func:`run_interruptible` raises :class:`Interrupted`, whose text is the one line
to show.

Why not let the command run on the main thread: DuckDB 2.0 does stop a statement running
there on SIGINT by itself, but the command then fails with whatever the interrupted step
raises (``RuntimeError('Query interrupted')``, a Python function's KeyboardInterrupt wrapped
in ``InvalidInputException``, "transaction is aborted" from the next statement), and a
second Ctrl-C lands in Python anywhere, cleanup included. Here the stop comes only at a
statement, and presses during the wind-down are answered, not raised.

The warehouse's consistency does not depend on the wind-down finishing: DuckDB never keeps
an uncommitted transaction, whether it is rolled back, its connection closed or the process
killed. What an interrupted command leaves is therefore exactly what its committed
transactions wrote: nothing, unless the command said otherwise with :func:`keep`.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

from dip_sim.transaction import refuse_commits
from pipelines.warehouse import interrupt_connections

T = TypeVar("T")

# how often the main thread interrupts again, and checks whether the worker has ended
_POLL_SECONDS = 0.1


class Interrupted(Exception):
    """The command was stopped by Ctrl-C; ``str()`` says what the warehouse holds."""


class _Run:
    """What the command running now has committed for good (``kept``: the line to show)."""

    kept: str | None = None


_run = _Run()


def keep(line: str) -> None:
    """Mark that the running command has committed work an interrupt from now on leaves in place.

    ``line`` is then shown on an interrupt instead of "the warehouse is as before", e.g. after
    the load of ``dip-sim ingest`` is committed and before its quality stage. Outside
    :func:`run_interruptible` it has no effect.
    """
    _run.kept = line


def run_interruptible(body: Callable[[], T], what: str) -> T:
    """Run ``body`` (a warehouse command) so that Ctrl-C stops it; raise :class:`Interrupted` then.

    ``what`` names the work in the message (载入, 模拟 …). Without an interrupt, returns what
    ``body`` returns and raises what it raises. When the interrupt comes too late to stop it
    (the body ended anyway), its result is returned and a line says it was kept. After an
    interrupt, SIGINT stays ignored: the process is expected to exit. Called outside the main
    thread (where no signal arrives), it just runs ``body``.
    """
    if threading.current_thread() is not threading.main_thread():
        return body()
    _run.kept = None
    outcome: dict[str, object] = {}
    done = threading.Event()

    def work() -> None:
        try:
            outcome["value"] = body()
        except BaseException as exc:  # handed to the main thread
            outcome["error"] = exc
        finally:
            done.set()

    presses: list[int] = []

    def on_sigint(signum: int, frame: object) -> None:
        del frame
        presses.append(signum)
        refuse_commits()
        interrupt_connections()

    refuse_commits(False)
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        threading.Thread(target=work, name=f"dip-sim {what}").start()
        _wait(done, presses)
    finally:
        if presses:
            # the command is over and the process about to exit: a press more must not turn
            # into a KeyboardInterrupt after the one line has been printed
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        else:
            signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
        refuse_commits(False)
    if presses and "error" in outcome:
        raise Interrupted(_run.kept or f"已中断：{what}未完成，已回滚，仓库与本次命令之前相同")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    if presses:
        print(f"收到中断时{what}已完成，结果已保存", file=sys.stderr, flush=True)
    return outcome["value"]  # type: ignore[return-value]


def _wait(done: threading.Event, presses: list[int]) -> None:
    """Wait for the worker; once Ctrl-C was pressed, interrupt its statements until it ends."""
    told = False
    while not done.wait(_POLL_SECONDS):
        if presses:
            interrupt_connections()
        if len(presses) > 1 and not told:
            # the worker is rolling back: a forced exit would change nothing in the
            # warehouse either, but say why the command has not ended yet
            print("正在回滚，请稍候", file=sys.stderr, flush=True)
            told = True
