#!/usr/bin/env bash
# Installs what the tutorial's user data installed, on Amazon Linux 2023: Apache (httpd)
# and PHP 8.x with mbstring and the MySQL driver (mysqlnd: mysqli, pdo_mysql), both
# enabled at boot; Apache hands PHP to PHP-FPM. Adds the load balancer's health endpoint, a
# PHP script outside the web root, and leaves the web root empty: CodeDeploy fails a
# deployment that would overwrite files it did not put there.
#
# Environment: WEBFLEET_HEALTH_PATH (required), the URL path the target groups probe;
# WEBFLEET_PHP_VERSION (8.x, default 8.3).
set -euo pipefail

readonly WEB_ROOT=/var/www/html
readonly HEALTH_DIR=/usr/share/webfleet/health
readonly HEALTH_CONF=/etc/httpd/conf.d/webfleet-health.conf
readonly WEB_CONF=/etc/httpd/conf.d/webfleet-web.conf
# AL2023's php-fpm package: its www pool listens here, and its php.conf hands *.php to it.
readonly PHP_FPM_HANDLER='proxy:unix:/run/php-fpm/www.sock|fcgi://localhost'

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

# Fails unless $1 is a URL path Apache can alias safely: one or more /segments of letters,
# digits and ._~- (no quotes, spaces or a bare /, which would hide the whole site).
check_health_path() {
  local path=$1
  [[ $path =~ ^(/[A-Za-z0-9._~-]+)+$ ]] ||
    die "health path '${path}' is not a URL path of /segments made of letters, digits and ._~- (the Packer template passes HEALTH_CHECK.path from modules/names.ts)"
}

# Prints the health script: PHP answers, so the check fails when PHP cannot run.
render_health_php() {
  cat <<'PHP'
<?php
// webfleet: the load balancer's health check. No application needed: it answers before the
// first revision is deployed; PHP itself answers, so an instance whose PHP is down fails it.
header('Content-Type: text/plain; charset=utf-8');
header('Cache-Control: no-store');
echo "OK\n";
PHP
}

# Prints the Apache configuration that answers GET $1 with the script in folder $2, run by
# handler $3 (PHP-FPM on the image).
render_health_conf() {
  local path=$1 health_dir=$2 handler=$3
  # The path exactly (its dots escaped): Alias would also hand /path/anything to the script.
  local pattern="^${path//./\\.}\$"
  cat <<CONF
# webfleet: the target groups' health check (GET ${path} -> 200 "OK"), answered by PHP
# through the handler named below, so an instance whose PHP is down turns unhealthy and is
# replaced. The script lives outside the web root: it answers before any revision is
# deployed, and CodeDeploy, which owns the web root, never sees it.
AliasMatch "${pattern}" "${health_dir}/health.php"
<Directory "${health_dir}">
    Options None
    AllowOverride None
    Require all granted
    <Files "health.php">
        SetHandler "${handler}"
    </Files>
</Directory>
CONF
}

# Writes the health script into folder $3 and the Apache configuration that serves it at
# URL path $2 with handler $4 to $1.
install_health_endpoint() {
  local conf=$1 path=$2 health_dir=$3 handler=$4
  check_health_path "$path"
  mkdir -p "$health_dir" "$(dirname "$conf")"
  render_health_php >"${health_dir}/health.php"
  chmod 0755 "$health_dir"
  chmod 0644 "${health_dir}/health.php"
  render_health_conf "$path" "$health_dir" "$handler" >"$conf"
  chmod 0644 "$conf"
}

# Prints the Apache configuration for the web root $1: what CodeDeploy deploys there besides
# the site, which links Apache follows, and how long browsers may keep it.
render_web_conf() {
  local web_root=$1
  cat <<CONF
# webfleet: a revision deployed with "source: /" (the tutorial's) also lands its AppSpec in
# the web root; it describes the deployment, not the site.
<LocationMatch "^/appspec\.ya?ml\$">
    Require all denied
</LocationMatch>
<Directory "${web_root}">
    # Replaces httpd.conf's "Indexes FollowSymLinks": a symlink in a revision (to /etc/passwd,
    # say) is refused instead of served, and a folder without index is not listed.
    Options None
    # Deployed files keep the mtime their archive gave them: browsers must revalidate rather
    # than cache by heuristic, so a release is seen at once.
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
  local health_path=${WEBFLEET_HEALTH_PATH:-}
  [[ -n $health_path ]] || die "WEBFLEET_HEALTH_PATH is not set: the Packer template passes HEALTH_CHECK.path from modules/names.ts"
  check_health_path "$health_path"
  local packages
  mapfile -t packages < <(php_packages "$php_version")

  log "installing httpd and PHP ${php_version}: ${packages[*]}"
  dnf -y install httpd "${packages[@]}"

  log "adding the health endpoint: GET ${health_path} -> ${HEALTH_DIR}/health.php through PHP-FPM (${HEALTH_CONF})"
  install_health_endpoint "$HEALTH_CONF" "$health_path" "$HEALTH_DIR" "$PHP_FPM_HANDLER"

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
