# shellcheck shell=bash
# Shared set-up steps for scripts/run and scripts/test. Sourced, not a command.
#
# Everything lands in the checkout: the virtual environment in .venv/, and the
# database, install stamps and GraphiQL's npm packages under var/ (both ignored by git).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
VENV="$ROOT/.venv"
mkdir -p var

if [ -t 1 ]; then
    say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
else
    say() { printf '==> %s\n' "$*"; }
fi
note() { printf 'note: %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
is_ci() { case "${CI:-}" in true | 1 | yes) return 0 ;; *) return 1 ;; esac; }

find_python() {
    local candidate
    for candidate in ${PYTHON:-} python3 python3.13 python3.12 python3.11; do
        command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

ensure_venv() {
    if [ -x "$VENV/bin/python" ]; then
        return 0
    fi
    local python
    python="$(find_python)" || die "Ferryman needs Python 3.11 or newer: install it, or set PYTHON=/path/to/python3.11"
    say "Creating the virtual environment .venv ($("$python" --version))"
    "$python" -m venv "$VENV" ||
        die "'$python -m venv' failed (on Debian and Ubuntu: apt-get install python3-venv)"
    rm -f var/pip-install*.stamp
}

# pip install -e ".<extras>" when pyproject.toml changed since the last install of
# those extras (a stamp per set of extras, holding pyproject.toml's hash).
install_package() {
    local extras="$1" digest stamp
    stamp="var/pip-install-$(echo "${extras:-base}" | tr -cd 'a-z0-9,').stamp"
    digest="$("$VENV/bin/python" -c 'import hashlib; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest())')"
    if grep -qxF "$digest" "$stamp" 2>/dev/null; then
        return 0
    fi
    say "Installing Ferryman into .venv (pip install -e '.$extras')"
    "$VENV/bin/python" -m pip install -qq --disable-pip-version-check -e ".$extras"
    echo "$digest" >"$stamp"
}

# npm ci of the packages a folder of the repository pins (its package.json and
# package-lock.json) into a folder under var/, unless that install is current.
# $3 is a file the install leaves behind, relative to the destination; packages' own
# install scripts run only when $5 is "with-scripts".
npm_install_pinned() {
    local pins="$1" dest="$2" marker="$3" what="$4" scripts="--ignore-scripts"
    [ "${5:-}" = with-scripts ] && scripts=""
    if cmp -s "$pins/package.json" "$dest/package.json" &&
        cmp -s "$pins/package-lock.json" "$dest/package-lock.json" &&
        [ -e "$dest/$marker" ]; then
        return 0
    fi
    say "Installing $what (npm ci in $dest)"
    mkdir -p "$dest"
    cp "$pins/package.json" "$pins/package-lock.json" "$dest/"
    # shellcheck disable=SC2086 # $scripts is one flag or none
    (cd "$dest" && npm ci $scripts --no-audit --no-fund --loglevel=error)
}

# GraphiQL's browser files, at the versions deploy/graphiql/ pins, into
# var/graphiql/node_modules (Ferryman serves them itself when their hashes match).
install_graphiql_assets() {
    npm_install_pinned deploy/graphiql var/graphiql node_modules/.package-lock.json "GraphiQL's assets"
}

# The Tauri CLI at the version tests/tauri_cli/ pins, into var/tauri-cli, for the tests
# that generate a fresh key and sign with it (its packages' install scripts run).
install_tauri_cli() {
    npm_install_pinned tests/tauri_cli var/tauri-cli node_modules/.bin/tauri "the Tauri CLI" with-scripts
}

# axe-core at the version tests/console/axe/ pins, into var/axe, for the console's
# accessibility checks.
install_axe() {
    npm_install_pinned tests/console/axe var/axe node_modules/axe-core/axe.min.js "axe-core"
}

# apt-get install, only as root on a machine that has apt-get; false otherwise.
APT_UPDATED=""
apt_install() {
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        return 1
    fi
    say "Installing Debian packages: $*"
    if [ -z "$APT_UPDATED" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null || return 1
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
}
