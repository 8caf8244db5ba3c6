#!/usr/bin/env bash
# Runs last, just before Packer makes the image: stops the CodeDeploy agent and clears its
# cached state (an instance from this image must not believe it already ran deployments),
# removes package caches, logs, SSH host and login keys, and the machine id, so that every
# instance starts as a first boot.
set -euo pipefail

readonly CODEDEPLOY_DIR=/opt/codedeploy-agent
readonly CODEDEPLOY_LOG_DIR=/var/log/aws/codedeploy-agent

log() {
  printf '[webfleet] %s\n' "$*"
}

# Removes the contents of each existing folder given, keeping the folders.
empty_dirs() {
  local dir
  for dir in "$@"; do
    [[ -d $dir ]] && find "$dir" -mindepth 1 -delete
  done
  return 0
}

# Clears what the agent in $1 (logging to $2) remembers: deployment archives and
# instructions (last successful install, cleanup files), its pid files and its logs.
# The folders the agent expects stay in place.
clear_codedeploy_state() {
  local agent_dir=$1 log_dir=$2
  empty_dirs "${agent_dir}/deployment-root" "$log_dir"
  if [[ -d ${agent_dir}/state ]]; then
    find "${agent_dir}/state" -mindepth 1 -type f -delete
  fi
}

main() {
  if [[ -n $(systemctl list-unit-files --no-legend codedeploy-agent.service 2>/dev/null) ]]; then
    log "stopping the CodeDeploy agent and clearing its state"
    systemctl stop codedeploy-agent.service
  fi
  clear_codedeploy_state "$CODEDEPLOY_DIR" "$CODEDEPLOY_LOG_DIR"

  log "cleaning package caches"
  dnf clean all
  rm -rf /var/cache/dnf

  log "removing logs, host keys, login keys and the machine id"
  if command -v cloud-init >/dev/null 2>&1; then
    cloud-init clean --logs
  fi
  journalctl --rotate >/dev/null 2>&1 || true
  journalctl --vacuum-time=1s >/dev/null 2>&1 || true
  find /var/log -type f \( -name '*.log' -o -name '*.gz' -o -name '*-[0-9]*' \) -delete
  empty_dirs /var/tmp
  rm -f /etc/ssh/ssh_host_*
  rm -f /root/.ssh/authorized_keys /home/ec2-user/.ssh/authorized_keys
  rm -f /root/.bash_history /home/ec2-user/.bash_history
  # Empty, not removed: systemd makes a new id at the first boot of each instance.
  truncate -s 0 /etc/machine-id
  log "image cleaned"
}

# Run only when executed: the tests source this file to call its functions.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
