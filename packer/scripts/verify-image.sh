#!/usr/bin/env bash
# Checks the image before it is made, so that a broken image fails the build instead of
# the fleet's health checks: the health endpoint answers 200 "OK" through Apache and PHP-FPM
# and fails without PHP-FPM, PHP has the modules the application needs, the web root is
# empty, the CodeDeploy agent has the Ruby and the tar it runs, and every service starts
# at boot.
#
# Environment: WEBFLEET_HEALTH_PATH (required), the URL path the target groups probe;
# WEBFLEET_AGENT_RUBY (required), the Ruby line the agent runs on, such as 3.2.
set -euo pipefail

readonly WEB_ROOT=/var/www/html
readonly REQUIRED_PHP_MODULES=(mbstring mysqli pdo_mysql)
readonly BOOT_SERVICES=(httpd.service php-fpm.service codedeploy-agent.service)
# The agent unpacks tar and tgz revisions with this path, not with `tar` on PATH.
readonly AGENT_TAR=/bin/tar

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

# Prints the version of the `ruby` the agent's service runs: its unit starts the agent with
# `bash -a -c 'source /etc/profile; .../codedeploy-agent start'`, whose first line is
# `#!/usr/bin/env ruby`. $1 is the profile that unit sources (/etc/profile).
agent_ruby_version() {
  local profile=$1
  # shellcheck disable=SC2016 # expanded by the inner shell
  bash -a -c '[ -f "$1" ] && source "$1"; ruby -e "print RUBY_VERSION"' _ "$profile"
}

# Fails unless Ruby version $2 (3.2.8) belongs to line $1 (3.2).
check_agent_ruby() {
  local line=$1 actual=$2
  [[ $actual == "$line" || $actual == "$line".* ]] ||
    die "the CodeDeploy agent would run on Ruby ${actual:-(none)}, not ${line}: its installer supports Ruby ${line} at most (install-codedeploy-agent.sh sets it)"
}

# Fails unless $1 is an executable file.
check_agent_tar() {
  local tar=$1
  [[ -x $tar && -f $tar ]] || die "${tar} is missing: the CodeDeploy agent unpacks tar revisions with ${tar}"
}

# Prints the HTTP status of GET $1 on the first line and the body after it, retrying for up
# to $2 seconds (default 30) while the server is not up yet (status 000).
http_get() {
  local url=$1 wait_seconds=${2:-30}
  local out status=000 body="" i
  for ((i = 0; i < wait_seconds; i++)); do
    out=$(curl --silent --max-time 5 --write-out '\n%{http_code}' "$url" || true)
    status=${out##*$'\n'}
    body=${out%$'\n'*}
    [[ $status != 000 ]] && break
    sleep 1
  done
  printf '%s\n%s\n' "$status" "$body"
}

# Fails unless GET $1 answers 200 with the body "OK" (what the health script prints).
check_health_answers() {
  local url=$1 answer status body
  answer=$(http_get "$url")
  status=${answer%%$'\n'*}
  body=${answer#*$'\n'}
  [[ $status == 200 ]] || die "GET ${url} answered ${status}, expected 200"
  [[ $body == OK ]] || die "GET ${url} answered 200 but not \"OK\" (got: ${body:0:80}): PHP did not run the health script"
}

# Fails unless GET $1 answers 503, as Apache does when PHP-FPM does not answer: the health
# check then goes through PHP-FPM, so an instance whose PHP died is taken out.
check_health_needs_php() {
  local url=$1 answer status
  # No pipe into head: with pipefail, http_get's SIGPIPE would fail the check at random.
  answer=$(http_get "$url")
  status=${answer%%$'\n'*}
  [[ $status == 503 ]] ||
    die "GET ${url} answered ${status} with php-fpm stopped, expected 503: the health check does not go through PHP-FPM, so an instance whose PHP died would stay healthy"
}

main() {
  local health_path=${WEBFLEET_HEALTH_PATH:-}
  [[ -n $health_path ]] || die "WEBFLEET_HEALTH_PATH is not set: the Packer template passes HEALTH_CHECK.path from modules/names.ts"
  local agent_ruby=${WEBFLEET_AGENT_RUBY:-}
  [[ -n $agent_ruby ]] || die "WEBFLEET_AGENT_RUBY is not set: the Packer template passes the agent's Ruby line"

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

  log "checking the CodeDeploy agent's Ruby (${agent_ruby}) and ${AGENT_TAR}"
  check_agent_ruby "$agent_ruby" "$(agent_ruby_version /etc/profile || true)"
  check_agent_tar "$AGENT_TAR"

  local url="http://127.0.0.1${health_path}"
  log "checking GET ${health_path} through Apache and PHP-FPM"
  systemctl start php-fpm.service httpd.service
  check_health_answers "$url"
  log "checking that GET ${health_path} fails while php-fpm is stopped"
  systemctl stop php-fpm.service
  check_health_needs_php "$url"
  systemctl start php-fpm.service
  check_health_answers "$url"
  log "image checks passed"
}

# Run only when executed: the tests source this file to call its functions.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
