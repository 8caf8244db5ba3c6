#!/usr/bin/env bash
# The image's package list, one "name version-release.arch" a line, sorted, written to
# /tmp/webfleet-packages.txt for Packer to download: npm run nightly keeps it with the image and
# says which packages changed from one night's image to the next. Safe to run twice.
set -euo pipefail

readonly OUT=/tmp/webfleet-packages.txt

main() {
  rpm -qa --queryformat '%{NAME} %{VERSION}-%{RELEASE}.%{ARCH}\n' | LC_ALL=C sort >"${OUT}.tmp"
  mv "${OUT}.tmp" "${OUT}"
  chmod 0644 "${OUT}"
  echo "package manifest: $(wc -l <"${OUT}") packages in ${OUT}"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
