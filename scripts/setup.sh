#!/usr/bin/env bash
# Set up explain on a fresh Debian/Ubuntu machine. Idempotent.
#   scripts/setup.sh          system packages, .venv, explain with the renderers
#   scripts/setup.sh --dev    the same plus the test tools
set -euo pipefail
cd "$(dirname "$0")/.."

extras="render"
[[ "${1:-}" == "--dev" ]] && extras="dev"

# Manim builds pycairo and manimpango against cairo and pango; Korean captions need a CJK font.
system_packages=(libcairo2-dev libpango1.0-dev pkg-config fonts-noto-cjk python3-venv)
missing=()
for pkg in "${system_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# The HTML slides carry reveal.js inside; it comes from the npm registry.
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
    echo "setup: installing system packages: ${missing[*]}"
    sudo_cmd=""
    [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
    echo "setup: creating .venv with $($python --version)"
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
echo "setup: installing explain[$extras]"
.venv/bin/python -m pip install -q -c constraints.txt -e ".[$extras]"
.venv/bin/python -c "import explain" || { echo "setup: explain does not import" >&2; exit 1; }
if ! .venv/bin/python -c "from explain import reveal_assets as r; raise SystemExit(not r.installed())"; then
    version=$(.venv/bin/python -c "from explain.reveal_assets import VERSION; print(VERSION)")
    echo "setup: installing reveal.js $version for offline slides"
    package_dir=$(mktemp -d)
    (cd "$package_dir" && npm pack --silent "reveal.js@$version" >/dev/null)
    .venv/bin/python -m explain.reveal_assets "$package_dir/reveal.js-$version.tgz" >/dev/null
    rm -rf "$package_dir"
fi
echo "setup: done (.venv/bin/explain)"
