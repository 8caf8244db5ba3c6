#!/usr/bin/env bash
# Applies Amazon Linux 2023's security updates while the AMI is built, and makes sure that
# an instance launched from the image never updates packages at boot: every instance runs
# exactly the packages that were baked and checked by verify-image.sh.
#
# AL2023 locks dnf to the release of its image; the template starts from the newest
# AL2023 AMI, so the updates applied here are the security updates of that release.
set -euo pipefail

readonly NO_BOOT_UPGRADES_CFG=/etc/cloud/cloud.cfg.d/90-webfleet-no-boot-upgrades.cfg

log() {
  printf '[webfleet] %s\n' "$*"
}

# Prints the cloud-init settings that turn off package updates at boot.
render_no_boot_upgrades_cfg() {
  cat <<'CFG'
# webfleet: packages are updated when the AMI is built (packer/scripts/security-updates.sh),
# never when an instance boots.
repo_update: false
repo_upgrade: none
package_update: false
package_upgrade: false
package_reboot_if_required: false
CFG
}

# Writes the cloud-init drop-in to $1 (its folder is created when missing).
disable_boot_upgrades() {
  local cfg=$1
  mkdir -p "$(dirname "$cfg")"
  render_no_boot_upgrades_cfg >"$cfg"
  chmod 0644 "$cfg"
}

main() {
  log "applying security updates"
  dnf -y upgrade --refresh --security
  log "turning off package updates at boot (${NO_BOOT_UPGRADES_CFG})"
  disable_boot_upgrades "$NO_BOOT_UPGRADES_CFG"
  # dnf-automatic is not part of AL2023's image; if something pulled it in, keep it off.
  if [[ -n $(systemctl list-unit-files --no-legend dnf-automatic.timer 2>/dev/null) ]]; then
    systemctl disable --now dnf-automatic.timer || true
  fi
}

# Run only when executed: the tests source this file to call its functions.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
