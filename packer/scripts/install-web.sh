#!/usr/bin/env bash
# Installs what the tutorial's user data installed, on Amazon Linux 2023: Apache (httpd)
# and PHP 8.x with mbstring and the MySQL driver (mysqlnd: mysqli, pdo_mysql), both
# enabled at boot. Adds the load balancer's health endpoint (GET /health -> 200), served
# from outside the web root, and leaves the web root empty: CodeDeploy fails a deployment
# that would overwrite files it did not put there.
#
# Environment: WEBFLEET_PHP_VERSION (8.x, default 8.3).
set -euo pipefail

readonly WEB_ROOT=/var/www/html
readonly HEALTH_DIR=/usr/share/webfleet/health
readonly HEALTH_CONF=/etc/httpd/conf.d/webfleet-health.conf
readonly WEB_CONF=/etc/httpd/conf.d/webfleet-web.conf

log() {
  printf '[webfleet] %s\n' "$*"
}

die() {
  printf '[webfleet] error: %s\n' "$*" >&2
  exit 1
}

# Prints the AL2023 packages of PHP line $1 (8.1, 8.2, ...), one per line.
php_packages() {
  local version=$1
  [[ $version =~ ^8\.[0-9]$ ]] || die "PHP version '${version}' is not a PHP 8 line such as 8.3"
  local suffix
  for suffix in "" -cli -fpm -mbstring -mysqlnd; do
    printf 'php%s%s\n' "$version" "$suffix"
  done
}

# Prints the Apache configuration that serves /health from health_dir ($1).
render_health_conf() {
  local health_dir=$1
  cat <<CONF
# webfleet: the target groups' health check (GET /health -> 200 "OK"). The file lives
# outside the web root, so it answers before any revision is deployed, and CodeDeploy,
# which owns /var/www/html, never sees it.
Alias "/health" "${health_dir}/health.txt"
<Directory "${health_dir}">
    Options None
    AllowOverride None
    Require all granted
</Directory>
<Location "/health">
    <IfModule mod_headers.c>
        Header set Cache-Control "no-store"
    </IfModule>
</Location>
CONF
}

# Writes the health file into $2 and the Apache configuration that serves it to $1.
install_health_endpoint() {
  local conf=$1 health_dir=$2
  mkdir -p "$health_dir" "$(dirname "$conf")"
  printf 'OK\n' >"${health_dir}/health.txt"
  chmod 0755 "$health_dir"
  chmod 0644 "${health_dir}/health.txt"
  render_health_conf "$health_dir" >"$conf"
  chmod 0644 "$conf"
}

# Prints the Apache configuration for the web root $1: what CodeDeploy deploys there besides
# the site, and how long browsers may keep it.
render_web_conf() {
  local web_root=$1
  cat <<CONF
# webfleet: a revision deployed with "source: /" (the tutorial's) also lands its AppSpec in
# the web root; it describes the deployment, not the site.
<LocationMatch "^/appspec\.ya?ml\$">
    Require all denied
</LocationMatch>
# Deployed files keep the mtime their archive gave them: browsers must revalidate rather
# than cache by heuristic, so a release is seen at once.
<Directory "${web_root}">
    <IfModule mod_headers.c>
        Header set Cache-Control "no-cache"
    </IfModule>
</Directory>
CONF
}

# Writes the web root's Apache configuration ($2) to $1.
install_web_conf() {
  local conf=$1 web_root=$2
  mkdir -p "$(dirname "$conf")"
  render_web_conf "$web_root" >"$conf"
  chmod 0644 "$conf"
}

# Removes everything inside the web root $1 (dotfiles too) and keeps the folder itself.
empty_web_root() {
  local root=$1
  [[ -n $root && $root != / ]] || die "refusing to empty '${root}'"
  mkdir -p "$root"
  find "$root" -mindepth 1 -delete
}

main() {
  local php_version=${WEBFLEET_PHP_VERSION:-8.3}
  local packages
  mapfile -t packages < <(php_packages "$php_version")

  log "installing httpd and PHP ${php_version}: ${packages[*]}"
  dnf -y install httpd "${packages[@]}"

  log "adding the health endpoint: ${HEALTH_CONF} -> ${HEALTH_DIR}/health.txt"
  install_health_endpoint "$HEALTH_CONF" "$HEALTH_DIR"

  log "configuring the web root: ${WEB_CONF}"
  install_web_conf "$WEB_CONF" "$WEB_ROOT"

  log "emptying the web root ${WEB_ROOT} (CodeDeploy puts the application there)"
  empty_web_root "$WEB_ROOT"

  httpd -t
  log "enabling httpd and php-fpm at boot"
  systemctl enable httpd.service php-fpm.service
}

# Run only when executed: the tests source this file to call its functions.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
