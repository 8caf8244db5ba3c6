#!/usr/bin/env bash
# Checks the image before it is made, so that a broken image fails the build instead of
# the fleet's health checks: /health answers 200 through Apache, PHP has the modules the
# application needs, the web root is empty and every service starts at boot.
set -euo pipefail

readonly WEB_ROOT=/var/www/html
readonly REQUIRED_PHP_MODULES=(mbstring mysqli pdo_mysql)
readonly BOOT_SERVICES=(httpd.service php-fpm.service codedeploy-agent.service)

log() {
  printf '[webfleet] %s\n' "$*"
}

die() {
  printf '[webfleet] error: %s\n' "$*" >&2
  exit 1
}

# Reads `php -m` output on stdin; prints each module named in the arguments that is missing.
missing_php_modules() {
  local loaded module
  loaded=$(tr '[:upper:]' '[:lower:]')
  for module in "$@"; do
    grep -qxF "${module,,}" <<<"$loaded" || printf '%s\n' "$module"
  done
}

# Succeeds when folder $1 exists and holds nothing, not even dotfiles.
web_root_is_empty() {
  local root=$1
  [[ -d $root ]] || return 1
  [[ -z $(find "$root" -mindepth 1 -print -quit) ]]
}

# Prints the HTTP status of GET $1, retrying for up to $2 seconds (default 30) while the
# server is not up yet.
http_status() {
  local url=$1 wait_seconds=${2:-30}
  local status=000 i
  for ((i = 0; i < wait_seconds; i++)); do
    status=$(curl --silent --output /dev/null --write-out '%{http_code}' --max-time 5 "$url" || true)
    [[ $status != 000 ]] && break
    sleep 1
  done
  printf '%s\n' "$status"
}

main() {
  log "checking PHP modules: ${REQUIRED_PHP_MODULES[*]}"
  local missing
  missing=$(php -m | missing_php_modules "${REQUIRED_PHP_MODULES[@]}")
  [[ -z $missing ]] || die "PHP modules missing: ${missing//$'\n'/ }"

  log "checking that the web root ${WEB_ROOT} is empty"
  web_root_is_empty "$WEB_ROOT" || die "${WEB_ROOT} is not empty: CodeDeploy would refuse to deploy over it"

  local service
  for service in "${BOOT_SERVICES[@]}"; do
    systemctl is-enabled --quiet "$service" || die "${service} is not enabled at boot"
  done

  log "checking GET /health through Apache"
  systemctl start php-fpm.service httpd.service
  local status
  status=$(http_status http://127.0.0.1/health)
  [[ $status == 200 ]] || die "GET /health answered ${status}, expected 200"
  log "image checks passed"
}

# Run only when executed: the tests source this file to call its functions.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
