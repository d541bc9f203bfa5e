#!/usr/bin/env bash
# Installs what graphd's client suites need, into target/clients/ (a cache, not committed), and
# only what is missing: a Python venv with nebula3-python 3.8.3 and pytest, nebula3-python's
# sdist (its tests/), and the Node.js client 3.0.3 with its native addon built here (npm does
# not run its install script; node-gyp cannot download headers here, so --nodedir=/usr).
# Debian packages only when python3's venv or Node.js is missing. Run by .ci/run and by
# `cargo xtask clients`; a second run does nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
cache=target/clients
mkdir -p "$cache"

NEBULA3_PYTHON=3.8.3
PYTEST=9.2.0
NEBULA_NODEJS=3.0.3

apt_install() {
    if [ "$(id -u)" != 0 ]; then
        echo "install.sh: missing $*; install them (apt-get install $*)" >&2
        exit 1
    fi
    if [ ! -f "$cache/.apt-updated" ]; then
        apt-get update -qq && touch "$cache/.apt-updated"
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    apt_install nodejs npm
fi
if [ ! -f /usr/include/node/node.h ]; then
    apt_install libnode-dev
fi

venv="$cache/venv"
stamp="$venv/.installed-nebula3-python-$NEBULA3_PYTHON-pytest-$PYTEST"
if [ ! -f "$stamp" ]; then
    rm -rf "$venv"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
        apt_install python3-venv
        rm -rf "$venv"
        python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "nebula3-python==$NEBULA3_PYTHON" "pytest==$PYTEST"
    touch "$stamp"
fi

sdist="$cache/sdist/nebula3_python-$NEBULA3_PYTHON"
if [ ! -f "$sdist/tests/test_session_pool.py" ]; then
    rm -rf "$cache/sdist"
    mkdir -p "$cache/sdist"
    "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps \
        --no-binary :all: -d "$cache/sdist" "nebula3-python==$NEBULA3_PYTHON"
    tar -xzf "$cache/sdist/nebula3_python-$NEBULA3_PYTHON.tar.gz" -C "$cache/sdist"
fi

node="$cache/node"
package="$node/node_modules/@nebula-contrib/nebula-nodejs"
if [ ! -f "$node/.built-$NEBULA_NODEJS" ]; then
    rm -rf "$node"
    mkdir -p "$node"
    echo '{"name": "graphd-clients", "private": true}' > "$node/package.json"
    (cd "$node" && npm install --no-audit --no-fund --loglevel=error \
        "@nebula-contrib/nebula-nodejs@$NEBULA_NODEJS")
    if ! (cd "$package" && npx --yes node-gyp rebuild --nodedir=/usr) >"$cache/node-gyp.log" 2>&1; then
        tail -30 "$cache/node-gyp.log" >&2
        exit 1
    fi
    node -e "require('$PWD/$package')" # the addon loads
    touch "$node/.built-$NEBULA_NODEJS"
fi
echo "graphd clients: nebula3-python $NEBULA3_PYTHON, pytest $PYTEST, nebula-nodejs $NEBULA_NODEJS in $cache"
