"""Where grading tasks run: local worker processes, or a Dask cluster.

Both run the same function (``autograder.task.run_task``) on the same plain-data
task, so a class graded on a laptop and one graded on a SLURM or Kubernetes Dask
cluster go through one code path. Only the grading process writes the gradebook.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from typing import Any


def worker_context() -> multiprocessing.context.BaseContext:
    """Fresh worker processes, never forks of the grader (whose zmq and asyncio state must not be copied).

    Where it exists, a fork server that has imported the task module once hands out
    workers, so each worker does not pay nbgrader's import again (about 3 s of CPU).
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["autograder.task"])
        return context
    return multiprocessing.get_context("spawn")


class LocalWorkers:
    """A pool of worker processes on this machine; each task starts its own kernel."""

    def __init__(self, workers: int) -> None:
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=worker_context())
        self.description = f"{workers} local worker(s)"

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> Future:
        return self.pool.submit(fn, arg)

    def as_completed(self, futures: list[Any]) -> Iterator[Any]:
        return as_completed(futures)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


class DaskWorkers:
    """Tasks sent to an existing Dask distributed scheduler (``tcp://host:port``)."""

    def __init__(self, address: str, timeout: float = 30) -> None:
        from distributed import Client

        self.client = Client(address, timeout=timeout)
        n = len(self.client.scheduler_info().get("workers", {}))
        self.description = f"Dask cluster at {address} ({n} worker(s))"

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> Any:
        # pure=False: the same task submitted twice (after --force) must run again.
        return self.client.submit(fn, arg, pure=False, retries=0)

    def as_completed(self, futures: list[Any]) -> Iterator[Any]:
        from distributed import as_completed as dask_as_completed

        return iter(dask_as_completed(futures))

    def close(self) -> None:
        self.client.close()


def open_workers(workers: int, scheduler: str | None) -> LocalWorkers | DaskWorkers:
    return DaskWorkers(scheduler) if scheduler else LocalWorkers(workers)
