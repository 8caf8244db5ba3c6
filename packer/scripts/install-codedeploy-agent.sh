#!/usr/bin/env bash
# Installs the AWS CodeDeploy agent from the build region's aws-codedeploy-<region> bucket
# (as AWS documents for Amazon Linux) on the Ruby it supports, and enables it at boot. Its
# state is cleared by cleanup.sh before the image is made.
#
# The agent's installer accepts Ruby up to 3.2, and AL2023 ships 3.2 and 3.4 side by side
# with `ruby` pointing at either. The agent's service, its self-update and its installer all
# run `#!/usr/bin/env ruby`, so ruby<version> is installed and made the system's `ruby`.
#
# Environment: WEBFLEET_REGION (required), the region the AMI is built in;
# WEBFLEET_AGENT_RUBY (required), the Ruby line for the agent, such as 3.2.
set -euo pipefail

log() {
  printf '[webfleet] %s\n' "$*"
}

die() {
  printf '[webfleet] error: %s\n' "$*" >&2
  exit 1
}

# Prints the URL of the agent installer in region $1.
codedeploy_installer_url() {
  local region=$1
  [[ $region =~ ^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$ ]] || die "'${region}' is not an AWS region such as us-east-1"
  local domain=amazonaws.com
  [[ $region == cn-* ]] && domain=amazonaws.com.cn
  printf 'https://aws-codedeploy-%s.s3.%s.%s/latest/install\n' "$region" "$region" "$domain"
}

# Prints the version (3.2.8) of the Ruby interpreter $1.
ruby_version() {
  "$1" -e 'print RUBY_VERSION'
}

# Makes Ruby line $1 (3.2) the `ruby` in folder $2 (default /usr/bin) through alternatives,
# as AL2023 switches between its Ruby versions, and fails unless `ruby` then is that line.
use_ruby() {
  local line=$1 bindir=${2:-/usr/bin}
  [[ $line =~ ^[0-9]+\.[0-9]+$ ]] || die "Ruby line '${line}' is not MAJOR.MINOR such as 3.2"
  local wanted="${bindir}/ruby${line}"
  [[ -x $wanted ]] || die "${wanted} is missing: the ruby${line} package provides it"
  # An AL2023 release that ships one Ruby only has no alternatives entry: its ruby is checked below.
  if alternatives --display ruby >/dev/null 2>&1; then
    alternatives --set ruby "$wanted"
  fi
  local actual
  actual=$(ruby_version "${bindir}/ruby") || die "${bindir}/ruby does not run: the CodeDeploy agent needs Ruby ${line} there"
  [[ $actual == "$line" || $actual == "$line".* ]] ||
    die "${bindir}/ruby is Ruby ${actual}, not ${line}, the line the CodeDeploy agent's installer supports"
}

main() {
  local region=${WEBFLEET_REGION:-}
  [[ -n $region ]] || die "WEBFLEET_REGION is not set: the Packer template passes the build region"
  local ruby=${WEBFLEET_AGENT_RUBY:-}
  [[ -n $ruby ]] || die "WEBFLEET_AGENT_RUBY is not set: the Packer template passes the agent's Ruby line"

  # tar: the agent unpacks tar and tgz revisions with /bin/tar.
  log "installing Ruby ${ruby} for the agent, and tar"
  dnf -y install "ruby${ruby}" tar
  use_ruby "$ruby"
  log "ruby is $(ruby_version /usr/bin/ruby) (/usr/bin/ruby -> $(readlink -f /usr/bin/ruby))"

  if rpm -q codedeploy-agent >/dev/null 2>&1; then
    log "CodeDeploy agent already installed: $(rpm -q codedeploy-agent)"
  else
    local url workdir
    url=$(codedeploy_installer_url "$region")
    log "installing the CodeDeploy agent from ${url}"
    workdir=$(mktemp -d)
    curl --fail --silent --show-error --location --retry 5 --retry-delay 3 --output "${workdir}/install" "$url"
    chmod +x "${workdir}/install"
    AWS_REGION=$region "/usr/bin/ruby${ruby}" "${workdir}/install" auto
    rm -rf "$workdir"
    rpm -q codedeploy-agent >/dev/null || die "the installer finished but the codedeploy-agent package is not installed"
  fi

  log "enabling codedeploy-agent at boot"
  systemctl enable codedeploy-agent.service
}

# Run only when executed: the tests source this file to call its functions.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
