#!/usr/bin/env bash
# Installs the AWS CodeDeploy agent from the build region's aws-codedeploy-<region> bucket
# (as AWS documents for Amazon Linux) and enables it at boot. Its state is cleared by
# cleanup.sh before the image is made.
#
# Environment: WEBFLEET_REGION (required), the region the AMI is built in.
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

main() {
  local region=${WEBFLEET_REGION:-}
  [[ -n $region ]] || die "WEBFLEET_REGION is not set: the Packer template passes the build region"

  if rpm -q codedeploy-agent >/dev/null 2>&1; then
    log "CodeDeploy agent already installed: $(rpm -q codedeploy-agent)"
  else
    local url workdir
    url=$(codedeploy_installer_url "$region")
    log "installing the CodeDeploy agent from ${url}"
    # The installer is a Ruby script; AL2023's ruby is 3.x, which the agent supports.
    dnf -y install ruby
    workdir=$(mktemp -d)
    curl --fail --silent --show-error --location --retry 5 --retry-delay 3 --output "${workdir}/install" "$url"
    chmod +x "${workdir}/install"
    AWS_REGION=$region "${workdir}/install" auto
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
