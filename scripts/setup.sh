#!/usr/bin/env bash
# npm run setup: the first README command. Installs the system tools the tests run for real
# (shellcheck, Packer, Apache + mod_php, Chromium, curl) where they are missing, then the npm
# packages (npm ci). Idempotent: a second run installs nothing. .ci/run calls it too, so there
# is one install path.
#
#   Debian:  apt-get (with sudo when not root)
#   Ubuntu:  apt-get, except Chromium: Ubuntu's chromium package is a wrapper around a snap,
#            which does not run headless in containers or CI; Chrome for Testing's headless
#            shell is fetched into .cache/browsers/ instead (needs internet)
#   macOS:   Homebrew (shellcheck, packer, curl); Apache + mod_php and Chromium in Debian's
#            layout do not exist there, so the local revision run is skipped, loudly
#   other:   says what to install by hand, then runs npm ci
#
# Not installed here (they need HashiCorp's downloads, not a distribution's packages):
# Terraform >= 1.10 and the AWS provider for the infrastructure checks, and Packer >= 1.10 for
# real AMI builds (Debian's packer 1.6.6 is enough for `packer fmt`). See README.md, "Set-up", and docs/development.md.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

# Where the file probes and /etc/os-release are looked up: / unless a test points elsewhere
# (__tests__/setup-script.test.ts runs this script against a fake system).
root=${WEBFLEET_SETUP_ROOT:-}

# Tool → how to tell it is there (a command on PATH, or a glob of files).
declare -A debian_probe=(
  [shellcheck]=shellcheck
  [packer]=packer
  [apache2]=/usr/sbin/apache2
  [libapache2-mod-php]='/usr/lib/apache2/modules/libphp*.so'
  [php-cli]=php
  [php-mbstring]='/etc/php/*/mods-available/mbstring.ini'
  [php-mysql]='/etc/php/*/mods-available/mysqli.ini'
  [php-fpm]='/usr/sbin/php-fpm*'
  [chromium]=chromium
  [curl]=curl
)

present() {
  local probe=$1
  if [[ $probe == /* ]]; then
    # shellcheck disable=SC2086 # the probe is a glob on purpose
    compgen -G "$root"$probe >/dev/null
  else
    command -v "$probe" >/dev/null 2>&1
  fi
}

as_root() {
  if [[ $(id -u) == 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    say "need root to run '$*' and there is no sudo: run npm run setup as root, or install the packages by hand"
    return 1
  fi
}

# Chrome for Testing's headless shell, for Ubuntu (see above). Tests find it in .cache/browsers/.
fetch_headless_chrome() {
  if compgen -G '.cache/browsers/chrome-headless-shell/*/chrome-headless-shell-*/chrome-headless-shell' >/dev/null; then
    return 0
  fi
  say "fetching Chrome for Testing's headless shell into .cache/browsers/ (Ubuntu's chromium is a snap)"
  # Pinned: the last line that runs on Node.js 20 (3.x needs 22.12). --install-deps adds the
  # shared libraries the shell needs with apt, which needs root.
  local deps=()
  [[ $(id -u) == 0 ]] && deps=(--install-deps)
  npx --yes @puppeteer/browsers@2.13.2 install chrome-headless-shell@stable --path "$PWD/.cache/browsers" "${deps[@]}" >&2
}

apt_install() {
  local skip_chromium=$1 missing=() pkg
  for pkg in "${!debian_probe[@]}"; do
    [[ $pkg == chromium && $skip_chromium == yes ]] && continue
    present "${debian_probe[$pkg]}" || missing+=("$pkg")
  done
  if ((${#missing[@]} == 0)); then
    say "system tools: all present"
    return 0
  fi
  IFS=$'\n' read -r -d '' -a missing < <(printf '%s\n' "${missing[@]}" | sort && printf '\0')
  say "installing Debian packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

brew_install() {
  local missing=() tool
  for tool in shellcheck packer curl; do
    present "$tool" || missing+=("$tool")
  done
  if ((${#missing[@]})); then
    say "installing with Homebrew: ${missing[*]}"
    brew install "${missing[@]}"
  fi
  say "macOS: Debian's Apache + mod_php and Chromium layout is not available; the local revision run (revision:check) is skipped by npm test, with a banner"
}

os=$(uname -s)
distro=
if [[ -r $root/etc/os-release ]]; then
  # shellcheck disable=SC1091 # a system file
  distro=$(. "$root/etc/os-release" && echo "${ID:-} ${ID_LIKE:-}")
  distro=${distro% }
fi

case "$os $distro" in
  *ubuntu*)
    apt_install yes
    # A snap's command is /snap/bin/<name>, a link to /usr/bin/snap.
    chromium_path=$(command -v chromium || true)
    if [[ -z $chromium_path || $chromium_path == /snap/* || $(readlink -f "$chromium_path") == */snap ]]; then
      fetch_headless_chrome
    fi
    ;;
  *debian*) apt_install no ;;
  Darwin*)
    if command -v brew >/dev/null 2>&1; then
      brew_install
    else
      say "macOS without Homebrew: install shellcheck, packer and curl by hand (https://brew.sh makes it one command)"
    fi
    ;;
  *)
    say "unsupported system ($os ${distro:-unknown}): install shellcheck, packer, Apache 2 with mod_php (Debian layout), chromium and curl by hand;"
    say "the suites that need a missing tool print SKIPPED banners"
    ;;
esac

if ! command -v terraform >/dev/null 2>&1; then
  say "note: terraform is not on PATH: the infrastructure checks (terraform validate/plan/test) will be skipped, with a banner."
  say "      Install Terraform >= 1.10 from HashiCorp; the AWS provider ${WEBFLEET_AWS_PROVIDER:-5.100.0} comes from a filesystem mirror (docs/development.md)."
fi

say "npm ci"
npm ci --no-audit --no-fund
