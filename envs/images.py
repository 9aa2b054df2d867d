"""Base images (built offline with debootstrap) and task images (task-repo Dockerfiles).

- `build_base()` makes `swe-search/base:bookworm` (Python 3.11) or `swe-search/base:bullseye`
  (Python 3.9): `debootstrap` a minimal Debian with python3 (also as `python`), pip, pytest, git
  and patch, then `docker import` it. No registry is needed; the Debian mirror comes from the
  host's apt sources. With `from_image`, it instead builds on that (registry) image with apt-get.
  The image carries a digest of this recipe (RECIPE_LABEL), so a machine whose base image was
  built by an older recipe rebuilds it (and then its task images) on the next build.
- `build_task_images()` builds each task repo's Dockerfile on the base image, tagged with the
  task's image name and labelled with a hash of its build context, so it is rebuilt only when the
  context or the base image changes.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import docker
import docker.errors
from docker.utils.build import exclude_paths

from envs.engine import ensure_docker
from envs.types import EnvError, ImageBuildError, Task

logger = logging.getLogger(__name__)

SUITES = {"3.11": "bookworm", "3.9": "bullseye"}
PACKAGES = [
    "python3",
    "python-is-python3",  # agents type `python`
    "python3-pip",
    "python3-pytest",
    "python3-venv",
    "git",
    "patch",
    "ca-certificates",
]
WORKDIR = "/testbed"
HASH_LABEL = "swe-search.context-hash"
RECIPE_LABEL = "swe-search.base-recipe"
APT_SOURCES = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]

FROM_DOCKERFILE = """\
FROM {image}
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {packages} \\
 && rm -rf /var/lib/apt/lists/* \\
 && git config --system --add safe.directory '*'
ENV LANG=C.UTF-8
WORKDIR {workdir}
"""
IMPORT_CHANGES = ["ENV LANG=C.UTF-8", f"WORKDIR {WORKDIR}", 'CMD ["/bin/bash"]']


def base_tag(python: str = "3.11") -> str:
    """The tag of the base image for a Python version: swe-search/base:<debian suite>."""
    return f"swe-search/base:{_suite(python)}"


def build_base(
    python: str = "3.11",
    from_image: str | None = None,
    mirror: str | None = None,
    force: bool = False,
    client: docker.DockerClient | None = None,
) -> str:
    """Build the base image unless it exists (or `force`); return its tag."""
    client = client or ensure_docker()
    tag = base_tag(python)
    if not force and image_exists(client, tag):
        if base_is_current(client, tag):
            logger.info("%s exists; skipping (use --force to rebuild)", tag)
            return tag
        logger.info("%s was built by an older recipe; rebuilding it", tag)
    if from_image:
        _build_from_image(client, from_image, tag)
    else:
        _debootstrap_and_import(client, _suite(python), mirror or apt_mirror(), tag)
    return tag


def recipe_digest() -> str:
    """A digest of what goes into a base image; it changes whenever the recipe does."""
    recipe = "\n".join([*PACKAGES, FROM_DOCKERFILE, *IMPORT_CHANGES, "/etc/gitconfig safe.directory=*"])
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]


def base_is_current(client: docker.DockerClient, tag: str) -> bool:
    """Whether the image `tag` was built by this recipe (False also when it is missing)."""
    return _label(client, tag, RECIPE_LABEL) == recipe_digest()


def image_exists(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def apt_mirror(sources: list[Path] | None = None) -> str:
    """The host's Debian mirror, read from its apt sources (one-line or deb822 format)."""
    uris: list[str] = []
    for path in sources or APT_SOURCES:
        try:
            text = path.read_text()
        except OSError:
            continue
        uris += re.findall(r"^\s*URIs:\s*(\S+)", text, flags=re.M)
        uris += re.findall(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)", text, flags=re.M)
    for uri in uris:
        if "security" not in uri and "ubuntu" not in uri:
            return uri
    raise EnvError("could not find a Debian mirror in the apt sources of this machine; pass --mirror URL")


def _suite(python: str) -> str:
    try:
        return SUITES[python]
    except KeyError:
        raise EnvError(f"no base image for Python {python}; choose one of {', '.join(SUITES)}") from None


def _debootstrap_and_import(client: docker.DockerClient, suite: str, mirror: str, tag: str) -> None:
    if shutil.which("debootstrap") is None:
        raise ImageBuildError("debootstrap is missing; install it (as root: apt-get install debootstrap)")
    with tempfile.TemporaryDirectory(prefix="swe-search-rootfs-") as tmp:
        root = Path(tmp) / "rootfs"
        logger.info("debootstrap %s from %s (about a minute)", suite, mirror)
        cmd = [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(PACKAGES)}",
            suite,
            str(root),
            mirror,
        ]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            log = (done.stdout + done.stderr)[-3000:]
            raise ImageBuildError(f"debootstrap {suite} from {mirror} failed:\n{log}")
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for item in (root / cache).glob("*"):
                if item.is_file():
                    item.unlink()
        (root / WORKDIR.lstrip("/")).mkdir(exist_ok=True)
        (root / "etc/gitconfig").write_text("[safe]\n\tdirectory = *\n")
        archive = Path(tmp) / "rootfs.tar"
        subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(archive), "."], check=True)
        logger.info("docker import %s", tag)
        repository, _, version = tag.partition(":")
        changes = [*IMPORT_CHANGES, f"LABEL {RECIPE_LABEL}={recipe_digest()}"]
        client.api.import_image_from_file(str(archive), repository=repository, tag=version, changes=changes)
    if not image_exists(client, tag):
        raise ImageBuildError(f"docker import did not produce {tag}")


def _build_from_image(client: docker.DockerClient, image: str, tag: str) -> None:
    dockerfile = FROM_DOCKERFILE.format(image=image, packages=" ".join(PACKAGES), workdir=WORKDIR)
    logger.info("building %s on %s", tag, image)
    try:
        client.images.build(
            fileobj=io.BytesIO(dockerfile.encode()),
            tag=tag,
            rm=True,
            forcerm=True,
            labels={RECIPE_LABEL: recipe_digest()},
        )
    except docker.errors.BuildError as e:
        raise ImageBuildError(f"building {tag} on {image} failed: {e}\n{_log_tail(e.build_log)}") from e
    except docker.errors.APIError as e:
        raise ImageBuildError(f"building {tag} on {image} failed: {e}") from e


# ---- task images --------------------------------------------------------------------------------------


def build_task_images(
    tasks: list[Task],
    force: bool = False,
    base_image: str | None = None,
    client: docker.DockerClient | None = None,
    report: Callable[[str], None] = logger.info,
    on_log: Callable[[str], None] | None = None,
) -> list[str]:
    """Build the image of every task that has a Dockerfile (a task repo); return the tags built.

    An image is skipped when it exists with the same context hash, unless `force`. Tasks without
    a build context (SWE-bench rows) use published images and are skipped here. `report` gets one
    line per task; `on_log`, if given, every line docker's build prints (`Step 2/5 : RUN ...`).
    The base image is `base_image`, else the task's own `base_image` field (task.yaml), else
    swe-search/base:bookworm.
    """
    client = client or ensure_docker()
    base_ids: dict[str, str] = {}
    built = []
    for task in tasks:
        if not task.build_context:
            report(f"{task.instance_id}: no Dockerfile here; it uses the published image {task.image}")
            continue
        base = base_image or task.instance.get("base_image") or base_tag()
        if base not in base_ids:
            try:
                base_ids[base] = client.images.get(base).id
            except docker.errors.ImageNotFound:
                raise EnvError(
                    f"base image {base} is missing; build it with `swe-search images base`"
                    + ("" if base == base_tag() else " --python 3.9" if base == base_tag("3.9") else "")
                ) from None
            except docker.errors.APIError as e:  # e.g. not a valid image reference
                raise EnvError(f"base image {base!r}: {e.explanation or e}") from None
        context = Path(task.build_context)
        digest = context_hash(context, extra=base_ids[base])
        if not force and _label(client, task.image, HASH_LABEL) == digest:
            report(f"{task.instance_id}: {task.image} is up to date")
            continue
        report(f"{task.instance_id}: building {task.image}")
        _build_task(client, task, context, base, digest, on_log)
        built.append(task.image)
    return built


def context_hash(context: Path, extra: str = "") -> str:
    """A hash of every file docker would send as build context (honouring .dockerignore)."""
    ignore = context / ".dockerignore"
    patterns = [p for p in ignore.read_text().splitlines() if p.strip()] if ignore.is_file() else []
    digest = hashlib.sha256(extra.encode())
    for rel in sorted(exclude_paths(str(context), patterns)):
        path = context / rel
        if path.is_file() and not path.is_symlink():
            digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
        elif path.is_symlink():
            digest.update(rel.encode() + b"\0->" + str(path.readlink()).encode() + b"\0")
    return digest.hexdigest()[:16]


def _label(client: docker.DockerClient, tag: str, key: str) -> str | None:
    try:
        return (client.images.get(tag).labels or {}).get(key)
    except docker.errors.ImageNotFound:
        return None


def _build_task(
    client: docker.DockerClient,
    task: Task,
    context: Path,
    base_image: str,
    digest: str,
    on_log: Callable[[str], None] | None = None,
) -> None:
    if not (context / "Dockerfile").is_file():
        raise ImageBuildError(f"{task.instance_id}: {context} has no Dockerfile")
    log: list[dict] = []
    try:
        # the low-level API streams the build log, so progress can be shown while it runs
        for entry in client.api.build(
            path=str(context),
            tag=task.image,
            buildargs={"BASE_IMAGE": base_image},
            labels={HASH_LABEL: digest, "swe-search.instance_id": task.instance_id},
            rm=True,
            forcerm=True,
            network_mode="none",
            decode=True,
        ):
            log.append(entry)
            if "error" in entry:
                raise ImageBuildError(
                    f"building {task.image} for {task.instance_id} failed: {entry['error'].strip()}\n"
                    f"{_log_tail(log)}"
                )
            line = str(entry.get("stream") or "").strip()
            if line and on_log is not None:
                on_log(line)
    except docker.errors.APIError as e:
        raise ImageBuildError(f"building {task.image} for {task.instance_id} failed: {e}") from e


def _log_tail(build_log: object, lines: int = 30) -> str:
    text = "".join(
        str(entry.get("stream") or entry.get("error") or "") for entry in build_log if isinstance(entry, dict)
    )  # type: ignore[attr-defined]
    return "\n".join(text.splitlines()[-lines:])
