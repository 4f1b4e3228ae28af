#!/bin/sh
# felhom-agent installer — NOT YET IMPLEMENTED.
#
# This is a placeholder until the installer work lands (service user, sudoers allowlist for the
# three fenced root operations, systemd unit, checksum-verified binary install). It refuses to
# do anything rather than half-install. Until then, install by hand as the README describes.
set -eu

main() {
  echo "install.sh: the installer is not implemented yet; see README.md, section 'Installing on a Proxmox host'." >&2
  exit 2
}

main "$@"
