"""Running a batch's jobs: in this process, or in parallel on Dask; and its progress bar.

``Runner`` hands each ``Job`` (with its assignment and template gradebook) to
``worker.run`` as plain dicts and yields each ``Result`` as it comes back, taking more jobs
while it runs (``run_jobs``: a fixed list); it knows nothing of the course.
``workers=None`` starts a ``LocalCluster`` with one worker per core; ``workers=0`` grades in this process, one submission after another (tests,
debugging); ``scheduler="tcp://HOST:8786"`` uses a running cluster, whose workers need
this repository and its Python environment, nothing of the course.

SIGINT, SIGTERM and SIGHUP stop a batch alike (``stopped_like_ctrl_c``, for ``grade`` on the
command line): a ``KeyboardInterrupt``, and no result that comes back after the signal is
handed on (the signal may have cut its grading short: it is graded again next run).
A batch leaves no sandbox behind however it ends: each Dask worker empties its sandboxes
before SIGTERM or SIGHUP ends it (``clean_up_on_signals``; at a normal exit ``atexit`` does),
and once a local cluster is closed, the groups of its workers that died anyway go too.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator

from grader import capabilities, sandbox, worker
from grader.jobs import Assignment, Job, Result

# The signals received while ``stopped_like_ctrl_c`` was on (the first raised KeyboardInterrupt).
STOPPED: list[int] = []


@contextlib.contextmanager
def stopped_like_ctrl_c(signals=(signal.SIGINT, signal.SIGTERM, signal.SIGHUP)):
    """While inside: each of ``signals`` stops the batch as Ctrl-C does (``KeyboardInterrupt``,
    once; a later signal is ignored, so that the cleanup it starts is not cut short). Yields
    the signals received. The handlers before are back at the end, unless a signal came:
    then later ones are still ignored, until the process has finished stopping."""
    STOPPED.clear()

    def stop(signum, frame):
        STOPPED.append(signum)
        if len(STOPPED) == 1:
            raise KeyboardInterrupt(signal.Signals(signum).name)

    before = {sig: signal.signal(sig, stop) for sig in signals}
    try:
        yield STOPPED
    finally:
        for sig, handler in before.items():
            # Stopping: ignored for good (a signal Python took late would otherwise act after
            # its handlers are undone at exit, and end the exit with it).
            signal.signal(sig, signal.SIG_IGN if STOPPED else handler)


def stop_if_signalled() -> None:
    """Raise ``KeyboardInterrupt`` again if a signal came, in case code under it (nbclient's
    event loop, in this process) took the first for a failure of one submission."""
    if STOPPED:
        raise KeyboardInterrupt(signal.Signals(STOPPED[0]).name)


def in_thread(fn, *args):
    """``fn(*args)`` in a thread of its own while this one waits. nbclient, when it runs in
    the main thread, takes SIGINT and SIGTERM for itself while a notebook runs (a cancelled
    notebook, then the default action: death), so ``stopped_like_ctrl_c`` would not hear them.
    On ``KeyboardInterrupt`` the kernels are killed and the thread has a moment to end (and
    remove its scratch course)."""
    done: dict = {}

    def target():
        try:
            done["result"] = fn(*args)
        except BaseException as exc:  # handed to the waiting thread
            done["error"] = exc

    thread = threading.Thread(target=target, name="grading", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.5)
    except KeyboardInterrupt:
        sandbox.cleanup_all()
        thread.join(10)
        raise
    if "error" in done:
        raise done["error"]
    return done["result"]


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def run_jobs(jobs: list[Job], assignments: dict[str, Assignment], templates: dict[str, bytes],
             workers: int | None = None, scheduler: str | None = None,
             on_start: Callable[[], None] = lambda: None) -> Iterator[tuple[Job, Result]]:
    """Yield ``(job, result)`` as each job finishes: in this process when ``workers == 0``,
    else on Dask (a LocalCluster of ``workers`` processes, or the cluster at ``scheduler``).

    ``templates``: assignment -> its template gradebook. The coordinator goes on with
    ``on_start`` once the jobs are handed out."""
    if not jobs:
        on_start()
        return
    with Runner(assignments, templates, workers, scheduler) as runner:
        runner.submit(jobs)
        on_start()
        yield from runner.results()


class Runner:
    """Jobs handed to workers as they are submitted, their results yielded as they finish:
    ``submit`` may be called again while ``results`` is being read (the canary's jobs first,
    then each assignment's submissions once its canary has passed), and jobs submitted with a
    higher ``priority`` are started first. One cluster serves the whole batch.

    With ``workers == 0`` (and no scheduler) the jobs run in this process, one after another,
    in the order of priority then submission."""

    def __init__(self, assignments: dict[str, Assignment], templates: dict[str, bytes],
                 workers: int | None = None, scheduler: str | None = None):
        self.assignments, self.templates = assignments, templates
        self.workers, self.scheduler = workers, scheduler
        self.local = workers == 0 and not scheduler
        self.queue: list[tuple[int, int, Job]] = []   # in this process: (-priority, order, job)
        self.order = itertools.count()
        self.futures: dict = {}   # on Dask: future -> job, until its result is read
        self.remote: dict = {}
        self.stack = contextlib.ExitStack()
        self.client = self.pending = None

    def __enter__(self) -> Runner:
        return self

    def _start(self) -> None:
        """The cluster, once there is a job for it."""
        from dask.distributed import Client, LocalCluster, as_completed

        stack = self.stack.__enter__()
        try:
            if self.scheduler:
                self.client = stack.enter_context(Client(self.scheduler, timeout="30s"))
            else:
                # Last, once the workers are gone: the groups of any that died without cleaning up.
                stack.callback(remove_dead_workers_groups)
                cluster = stack.enter_context(LocalCluster(
                    n_workers=self.workers or default_workers(), threads_per_worker=1,
                    processes=True, dashboard_address=None,
                    memory_limit=0,  # a kernel's memory is capped by its sandbox, not by Dask
                    silence_logs=logging.ERROR, worker_dashboard_address=None))
                self.client = stack.enter_context(Client(cluster))
            self.client.run(clean_up_on_signals)
            self.pending = as_completed()
        except BaseException:
            self.stack.__exit__(*sys.exc_info())
            raise

    def __exit__(self, *exc) -> None:
        self.cancel()
        if self.client is not None:
            self.stack.__exit__(*exc)

    def submit(self, jobs: list[Job], priority: int = 0) -> None:
        if self.local:
            for job in jobs:
                heapq.heappush(self.queue, (-priority, next(self.order), job))
            return
        if jobs and self.client is None:
            self._start()
        for job in interleaved(jobs):
            name = job.assignment
            if name not in self.remote:
                self.remote[name] = (
                    self.client.scatter(self.assignments[name].as_dict(), broadcast=True),
                    self.client.scatter(self.templates[name], broadcast=True))
            info, template = self.remote[name]
            future = self.client.submit(worker.run, job.as_dict(), info, template, pure=False,
                                        priority=priority,
                                        key=f"grade-{job.key}-{job.fingerprint[:12]}")
            self.futures[future] = job
            self.pending.add(future)

    def cancel(self, which: Callable[[Job], bool] = lambda job: True) -> None:
        """Forget every job not finished yet (those ``which`` picks)."""
        self.queue = [entry for entry in self.queue if not which(entry[2])]
        heapq.heapify(self.queue)
        for future, job in list(self.futures.items()):
            if which(job):
                future.cancel()
                del self.futures[future]

    def results(self) -> Iterator[tuple[Job, Result]]:
        """``(job, result)`` as each finishes, until no submitted job is left."""
        if self.local:
            while self.queue:
                job = heapq.heappop(self.queue)[2]
                result = in_thread(worker.grade_job, job, self.assignments[job.assignment],
                                   self.templates[job.assignment])
                stop_if_signalled()
                yield job, result
            return
        while self.futures:
            future = next(self.pending)
            job = self.futures.pop(future, None)
            if job is None:   # cancelled
                continue
            try:
                result = Result.from_dict(future.result())
            except Exception as exc:  # a worker that died three times, a lost connection
                result = Result(ok=False, error=f"the grading worker failed: "
                                f"{type(exc).__name__}: {exc}")
            stop_if_signalled()
            yield job, result


def clean_up_on_signals(signals=(signal.SIGTERM, signal.SIGHUP)) -> None:
    """In a grading process that these signals would end at once (a Dask worker): first
    empty its sandboxes (``sandbox.cleanup_all``: kernels killed, cgroups removed), then do
    what the signal did before. Runs in the main thread (``client.run`` runs it on each
    worker's event loop); calling it again changes nothing."""
    for sig in signals:
        previous = signal.getsignal(sig)
        if getattr(previous, "cleans_up", False):
            continue

        def handler(signum, frame, previous=previous):
            sandbox.cleanup_all()
            if callable(previous):
                previous(signum, frame)
            elif previous != signal.SIG_IGN:
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)

        handler.cleans_up = True
        try:
            signal.signal(sig, handler)
        except ValueError:  # not this process's main thread: its atexit has to do
            return


def remove_dead_workers_groups(wait: float = 3.0) -> None:
    """The cgroups left by workers that died (a kernel dies with its worker, a moment later)."""
    caps = capabilities.probe()
    bases = dict.fromkeys([caps.memory_cgroup, caps.pids_cgroup])
    deadline = time.monotonic() + wait
    while True:
        capabilities.remove_stale_groups(bases)
        left = [g for b in bases if b is not None for g in b.glob("mlcourse-*")
                if (owner := capabilities.group_owner(g.name)) and not capabilities.alive(owner)]
        if not left or time.monotonic() > deadline:
            return
        time.sleep(0.1)


def interleaved(jobs: list[Job]) -> list[Job]:
    """One job of each assignment in turn: the batch's last tasks are then a mix of long
    and short notebooks, not all of the slowest assignment (workers finish together)."""
    queues: dict[str, list[Job]] = {}
    for job in jobs:
        queues.setdefault(job.assignment, []).append(job)
    out = []
    while any(queues.values()):
        for queue in queues.values():
            if queue:
                out.append(queue.pop(0))
    return out


class Progress:
    """A progress bar with an ETA on a terminal (tqdm); plain lines elsewhere."""

    def __init__(self, total: int, echo: Callable[[str], None]):
        self.echo, self.total = echo, total
        self.bar = None
        if total and sys.stderr.isatty() and echo is print:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="submission", dynamic_ncols=True)

    def line(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text)
        else:
            self.echo(text)

    def step(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
