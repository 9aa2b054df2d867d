"""`swe-search run --executor ray`: one Ray task per instance, on the Docker daemon of the node that runs it.

- **Unit of work**: one instance (all N runs of a select instance) is one Ray task. It reserves
  `ray.num_cpus` CPUs and as many units of the custom resource `swe_search_containers` as it holds
  containers at once; each node says how many containers it can hold when it joins
  (`ray start ... --resources '{"swe_search_containers": 8}'`). Ray runs a task again on another
  node when its node or worker dies (`ray.max_retries`); everything else that fails an instance
  becomes its error record, as with threads, and a rerun redoes it.
- **On the node**: the task first removes this run's containers whose owner died there (a killed
  worker), then builds its task image if the node lacks it (a task repo's build context travels
  with the task as a tar) or pulls a published one, then runs the same `work` as a thread would,
  in a node-local temporary run folder.
- **The run folder belongs to the driver**, which alone writes it: no shared filesystem. While an
  instance runs, the files it writes (the trajectory, saved after every step) stream to the driver
  every `ray.stream_interval` seconds through a small actor (`Sink`); when it ends, the task returns
  its record and every file, which the driver writes (done.json last, as with threads). A driver
  killed with kill -9 loses only its in-flight instances: the rerun redoes those and keeps the rest.
"""

from __future__ import annotations

import glob
import io
import os
import queue
import shutil
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import docker.errors
import ray
import ray.exceptions
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from envs.container import cleanup
from envs.engine import ensure_docker
from envs.files import write_atomic
from envs.images import build_task_images, image_exists
from envs.types import EnvError, ImageNotFound, Task
from eval.batch.config import RayConfig
from eval.batch.executor import INTERRUPT_WAIT_SECONDS, Context, Host, Interrupted, Work, attempt
from eval.batch.records import InstanceRecord, RunnerError, failed_record, pid_alive
from eval.batch.watchdog import Watchdog

RESOURCE = "swe_search_containers"
"""The custom Ray resource that bounds the task containers a node runs at once."""
PACKAGE_ROOT = Path(__file__).resolve().parents[2]

_owns_ray = False
"""Whether connect() called ray.init (and so close() calls ray.shutdown)."""


class RayUnavailable(RunnerError):
    """Ray is not installed, no cluster answers at the address, or no node can hold an instance."""


# ----------------------------------------------------------------------------- the driver


def connect(settings: RayConfig, workers: int, containers: int) -> None:
    """Join the cluster at `settings.address` ('auto': the one running here, else start Ray on this
    machine alone, sized for `workers` instances), and check a node can hold `containers` containers."""
    global _owns_ray
    if not ray.is_initialized():
        # the workers import this same checkout (an absent path on another node is harmless)
        path = os.pathsep.join(p for p in (str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")) if p)
        runtime_env = {"env_vars": {"PYTHONPATH": path}}
        try:
            ray.init(address=settings.address, runtime_env=runtime_env, logging_level="warning")
        except ConnectionError as e:
            if settings.address != "auto":
                raise RayUnavailable(
                    f"no Ray cluster answers at {settings.address} ({e}); start one with `ray start --head "
                    f"--resources '{{\"{RESOURCE}\": 8}}'`, or pass --ray-address auto"
                ) from None
            ray.init(
                num_cpus=max(os.cpu_count() or 1, int(workers * settings.num_cpus + 0.999)),
                resources={RESOURCE: workers * containers},
                include_dashboard=False,
                runtime_env=runtime_env,
                logging_level="warning",
            )
        _owns_ray = True
    most = max(
        (n["Resources"].get(RESOURCE, 0) for n in ray.nodes() if n.get("Alive")),
        default=0,
    )
    if most < containers:
        if _owns_ray:  # nothing will run: leave the cluster as found
            ray.shutdown()
            _owns_ray = False
        raise RayUnavailable(
            f"no node of the Ray cluster offers {containers} `{RESOURCE}` (the most is {most:g}); start each "
            f"node with `ray start ... --resources '{{\"{RESOURCE}\": 8}}'` (the containers it can hold)"
        )


class RayPool:
    """The driver's side: keeps `workers` instances in flight as Ray tasks, applies what they
    stream, and writes each finished one into the run folder (an eval.batch.executor.Pool)."""

    def __init__(self, settings: RayConfig, workers: int = 1, containers: int = 1) -> None:
        self.settings, self.workers, self.containers = settings, max(1, workers), containers
        self.running: dict[ray.ObjectRef, tuple[Task, float]] = {}
        self.live: dict[str, str] = {}
        """Instance id -> token of its current attempt; streamed files of any other attempt are dropped."""
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None
        """What stopped the driver's loop, if something did (raised by close())."""

    def start(
        self, runner: Host, tasks: list[Task], work: Work, results: queue.Queue[InstanceRecord | None]
    ) -> None:
        connect(self.settings, self.workers, self.containers)
        here = ray.get_runtime_context().get_node_id()
        # on the driver's node: it lives and dies with the driver, whichever worker node goes away
        self.sink = Sink.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False)
        ).remote()
        self.thread = threading.Thread(
            target=self._drive, args=(runner, list(tasks), work, results), name="ray-driver", daemon=True
        )
        self.thread.start()

    def _drive(
        self, runner: Host, waiting: list[Task], work: Work, results: queue.Queue[InstanceRecord | None]
    ) -> None:
        try:
            work_ref = ray.put(work)
            while (waiting or self.running) and not runner.stopping.is_set():
                while waiting and len(self.running) < self.workers:
                    self._submit(waiting.pop(0), work_ref, runner.run_id)
                done, _ = ray.wait(list(self.running), num_returns=1, timeout=0.5)
                self._apply(runner, ray.get(self.sink.drain.remote()))
                for ref in done:
                    with self.lock:
                        task, submitted = self.running.pop(ref)
                    rec = self._collect(runner, ref, task, submitted)
                    if rec is not None:
                        results.put(rec)
        except Exception as e:  # noqa: BLE001 -- reported by close(), in the caller's thread
            self.error = e
        finally:
            results.put(None)

    def _submit(self, task: Task, work_ref: ray.ObjectRef, run_id: str) -> None:
        context = pack_context(Path(task.build_context)) if task.build_context else None
        ref = run_instance.options(
            num_cpus=self.settings.num_cpus,
            resources={RESOURCE: self.containers},
            max_retries=self.settings.max_retries,
            retry_exceptions=False,  # our own failures are records already; only a lost node is retried
        ).remote(task, work_ref, run_id, context, self.sink, self.settings.stream_interval)
        with self.lock:
            self.running[ref] = (task, time.time())

    def _apply(self, runner: Host, updates: list[tuple[str, str, str, Any]]) -> None:
        """Streamed updates: an attempt starting (earlier attempts' files wiped) and files it wrote."""
        for kind, instance_id, token, payload in updates:
            if kind == "start":
                self.live[instance_id] = token
                runner.reset_instance(instance_id)
                runner.event("start", instance_id, node=payload)
            elif self.live.get(instance_id) == token:
                write_files(runner.out, instance_id, payload)

    def _collect(
        self, runner: Host, ref: ray.ObjectRef, task: Task, submitted: float
    ) -> InstanceRecord | None:
        """A finished Ray task: its record and files into the run folder (done.json last)."""
        iid = task.instance_id
        try:
            body, files = ray.get(ref)
        except ray.exceptions.TaskCancelledError:
            return None
        except ray.exceptions.RayTaskError as e:  # our code on the node failed outside the boundary
            rec = failed_record(task, "error", f"{type(e.cause).__name__}: {e.cause}", submitted, "exception")
        except ray.exceptions.RayError as e:  # the node or worker died more often than max_retries
            why = f"Ray lost it {self.settings.max_retries + 1} time(s): {type(e).__name__}: {str(e)[:300]}"
            rec = failed_record(task, "error", why, submitted, "node_lost")
        else:
            self._apply(runner, ray.get(self.sink.drain.remote()))  # what it streamed, then the final files
            rec = InstanceRecord.model_validate(body)
            runner.reset_instance(iid)
            write_files(runner.out, iid, files)
        self.live.pop(iid, None)
        runner.finish(rec)
        return rec

    def interrupt(self, runner: Host) -> None:
        """Cancel the in-flight tasks: each closes its containers (KeyboardInterrupt on its node);
        those still running after INTERRUPT_WAIT_SECONDS have their worker killed."""
        with self.lock:
            refs = list(self.running)
        for ref in refs:
            ray.cancel(ref)
        if refs:
            _, late = ray.wait(refs, num_returns=len(refs), timeout=INTERRUPT_WAIT_SECONDS)
            for ref in late:
                ray.cancel(ref, force=True)
        if self.thread is not None:
            self.thread.join(INTERRUPT_WAIT_SECONDS)

    def close(self) -> None:
        global _owns_ray
        if self.thread is not None:
            self.thread.join(INTERRUPT_WAIT_SECONDS)
        if _owns_ray and ray.is_initialized():  # a caller's own ray.init (a benchmark) stays up
            ray.shutdown()
            _owns_ray = False
        if self.error is not None:
            raise RunnerError(
                f"the Ray executor stopped: {type(self.error).__name__}: {self.error}; finished instances "
                "are kept, rerun the same command to continue"
            ) from self.error


@ray.remote(num_cpus=0, max_restarts=0)
class Sink:
    """Holds what running instances streamed until the driver drains it (the driver alone writes)."""

    def __init__(self) -> None:
        self.updates: list[tuple[str, str, str, Any]] = []

    def started(self, instance_id: str, token: str, node: str) -> None:
        self.updates.append(("start", instance_id, token, node))

    def files(self, instance_id: str, token: str, files: dict[str, bytes]) -> None:
        self.updates.append(("files", instance_id, token, files))

    def drain(self) -> list[tuple[str, str, str, Any]]:
        updates, self.updates = self.updates, []
        return updates


def write_files(out: Path, instance_id: str, files: dict[str, bytes]) -> None:
    """Write an instance's files (paths relative to the run folder) atomically into `out`."""
    for rel, data in files.items():
        parts = Path(rel).parts
        if Path(rel).is_absolute() or ".." in parts or instance_id not in rel:
            raise ValueError(f"{instance_id}: refusing to write {rel!r} outside its own files")
        write_atomic(out / rel, data)


# ----------------------------------------------------------------------------- the node


@ray.remote
def run_instance(
    task: Task, work: Work, run_id: str, context: bytes | None, sink: Any, interval: float
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """One instance on this node, in a node-local run folder; its record and every file it wrote."""
    node = ray.get_runtime_context().get_node_id()
    token = uuid.uuid4().hex
    sink.started.remote(task.instance_id, token, node)

    def on_node(t: Task, ctx: Context) -> InstanceRecord:
        cleanup(run_id)  # this run's containers whose owner died on this node (a killed worker)
        try:
            ensure_image(t, context)
        except (EnvError, docker.errors.DockerException) as e:
            return failed_record(t, "error", f"{type(e).__name__}: {e}", time.time(), "image_missing")
        return work(t, ctx)

    tmp = scratch_folder()
    try:
        ctx = Context(tmp, run_id, Watchdog(), threading.Event())
        mirror = Mirror(
            ctx.out,
            task.instance_id,
            lambda files: sink.files.remote(task.instance_id, token, files),
            interval,
        )
        try:
            rec = attempt(task, on_node, ctx)
        except KeyboardInterrupt:  # ray.cancel: close the instance's containers before this worker moves on
            ctx.stopping.set()
            ctx.watchdog.close_all()
            raise
        finally:
            mirror.stop()
            ctx.watchdog.stop()
        if rec is None:
            raise Interrupted(task.instance_id)
        rec.node = node
        return rec.model_dump(mode="json"), instance_files(ctx.out, task.instance_id)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


SCRATCH = Path(tempfile.gettempdir()) / "swe-search-ray"
"""Where the instances running on this node keep their run folders: <pid>-<random>, one per instance."""


def scratch_folder() -> Path:
    """A fresh node-local run folder for one instance. Those of dead workers go first (a worker
    killed with its node or its driver never removed its own)."""
    SCRATCH.mkdir(parents=True, exist_ok=True)
    for old in SCRATCH.iterdir():
        pid = old.name.split("-", 1)[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=SCRATCH))


def instance_files(out: Path, instance_id: str) -> dict[str, bytes]:
    """Every file of one instance in a run folder (trajectories, grades, logs, error.txt), by relative path."""
    roots = [
        out / "trajectories" / instance_id,
        out / "grades" / "logs" / instance_id,
        out / "instances" / instance_id,
    ]
    paths = [p for root in roots if root.is_dir() for p in root.rglob("*")]
    paths += [
        out / "grades" / f"{instance_id}.json",
        *(out / "grades").glob(f"{glob.escape(instance_id)}.run-*.json"),
    ]
    files = {}
    for p in paths:
        if p.is_file() and not p.name.startswith("."):  # .name.*.tmp: a write in progress
            try:
                files[str(p.relative_to(out))] = p.read_bytes()
            except FileNotFoundError:  # replaced between listing and reading; the next pass has it
                continue
    return files


class Mirror:
    """Sends the files an instance writes (its trajectory after every step) whenever they change."""

    def __init__(
        self, out: Path, instance_id: str, send: Callable[[dict[str, bytes]], object], interval: float
    ) -> None:
        self.out, self.instance_id, self.send, self.interval = out, instance_id, send, interval
        self.seen: dict[str, bytes] = {}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"mirror-{instance_id}", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stopped.wait(self.interval):
            self.push()

    def push(self) -> None:
        changed = {
            rel: data
            for rel, data in instance_files(self.out, self.instance_id).items()
            if self.seen.get(rel) != data
        }
        if changed:
            self.seen.update(changed)
            self.send(changed)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()


def pack_context(context: Path) -> bytes:
    """A task repo's build context (its Dockerfile and repo/) as a gzipped tar, to travel with the task."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(context, arcname=".")
    return buf.getvalue()


def ensure_image(task: Task, context: bytes | None) -> None:
    """Make the task's image present on this node's daemon: built from the shipped build context
    (skipped when it is up to date), or pulled when the task uses a published image."""
    client = ensure_docker()
    if context is None:
        if not image_exists(client, task.image):
            try:
                client.images.pull(task.image)
            except docker.errors.DockerException as e:
                raise ImageNotFound(f"{task.image} is not on this node and could not be pulled: {e}") from e
        return
    with tempfile.TemporaryDirectory(prefix="swe-search-context-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(context), mode="r:gz") as tar:
            tar.extractall(tmp, filter="tar")
        build_task_images([replace(task, build_context=tmp)], client=client)
