# Sourced by the other scripts: make sure .venv exists with the project installed.
# Usage: ensure_venv [extra]   (extra: "test" installs the test tools as well)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${RECONCILER_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "error: need root (or sudo) to run: $*" >&2; exit 1; fi
}

# python-ldap (a dependency: the directory at C speed) is built from source and needs these.
LDAP_BUILD_PACKAGES=(libldap2-dev libsasl2-dev python3-dev gcc)

ensure_build_deps() {
  command -v dpkg-query >/dev/null || return 0   # not Debian/Ubuntu: the README names the packages
  local missing=() pkg status
  for pkg in "${LDAP_BUILD_PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing what python-ldap needs to build: ${missing[*]}" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_venv() {
  local extra="${1:-}"
  ensure_build_deps
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "error: Python 3.11 or newer is needed (found: $("$PYTHON" --version 2>&1))" >&2; exit 1
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PYTHON" -m venv "$VENV" >/dev/null 2>&1; then
      # Debian and Ubuntu ship venv separately.
      rm -rf "$VENV"
      as_root apt-get update -qq
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      "$PYTHON" -m venv "$VENV"
    fi
  fi
  local spec="$ROOT"
  [ -n "$extra" ] && spec="$ROOT[$extra]"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec"
}
