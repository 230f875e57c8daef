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
# Kerberos too where it can build (MIT headers and a compiler: Debian libkrb5-dev, gcc);
# elsewhere its tests are skipped with the reason.
default_extras="test"
if command -v krb5-config >/dev/null 2>&1 && command -v gcc >/dev/null 2>&1; then
  default_extras="test,kerberos,kerberos-test"
fi
extras="${FLEETLOGOFF_EXTRAS:-$default_extras}"
# Prebuilt gssapi/krb5 wheels beside the project (shared/wheelhouse) spare ~8 min of
# compiling; pip builds from source without them.
for wheelhouse in "$root/../shared/wheelhouse" "$root/../../shared/wheelhouse" /work/shared/wheelhouse; do
  if [ -d "$wheelhouse" ]; then
    export PIP_FIND_LINKS="${PIP_FIND_LINKS:+$PIP_FIND_LINKS }$(cd "$wheelhouse" && pwd)"
    break
  fi
done
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
