# Sourced by scripts/test and scripts/demo: make .venv with the project installed.
# Re-installs only when pyproject.toml changed since the last install.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
stamp="$venv/.fleetlogoff-installed"
extras="${FLEETLOGOFF_EXTRAS:-test}"
want="$(cat "$root/pyproject.toml" | sha256sum | cut -d' ' -f1)-$extras"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "== installing fleetlogoff[$extras] into .venv (first run only)"
  log="$venv/install.log"
  if ! { "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip &&
         "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$root[$extras]"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "install failed (log: $log)" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi
export PATH="$venv/bin:$PATH"
cd "$root"
