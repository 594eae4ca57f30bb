#!/usr/bin/env bash
# Creates bench/.venv (stateway editable + the peers), then runs every scenario on every engine.
# Usage: bench/run.sh [--quick] [--engines stateway,dbos,moto] [--scenarios latency,...]
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(dirname "$BENCH_DIR")"
PYTHON="${PYTHON:-python3}"
VENV="$BENCH_DIR/.venv"
STAMP="$VENV/.installed"

if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -m venv "$VENV"
fi
if [[ ! -f "$STAMP" || "$BENCH_DIR/requirements.txt" -nt "$STAMP" || "$REPO_ROOT/pyproject.toml" -nt "$STAMP" ]]; then
    "$VENV/bin/pip" install --quiet --upgrade pip
    "$VENV/bin/pip" install --quiet -e "$REPO_ROOT"
    "$VENV/bin/pip" install --quiet -r "$BENCH_DIR/requirements.txt"
    touch "$STAMP"
fi
cd "$REPO_ROOT"
exec "$VENV/bin/python" -m bench.run "$@"
