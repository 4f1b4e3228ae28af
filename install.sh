#!/bin/sh
# felhom-agent installer: one binary, a non-root service user, a sudoers allowlist for the three
# fenced root operations (through root-owned validating wrappers), and a systemd unit.
#
#   sh install.sh --binary ./felhom-agent            (SHA256SUMS next to it, or --sums FILE)
#   curl -fsSL https://RELEASES/install.sh | sh -s -- --url https://RELEASES/
#   sh install.sh --uninstall [--purge]
#   sh install.sh --binary ./felhom-agent --setup [--enroll CODE --hub URL]   (one command)
#
# Safe to re-run: files are compared first and only what differs is replaced; the service is
# restarted only when its binary or unit changed. Nothing is replaced before the binary's
# SHA-256 has matched the published sums. Run `sh install.sh --help` for every option.
#
# The whole script is in functions and `main` runs on the last line, so a download cut short
# by `curl | sh` runs nothing at all.
set -eu

SERVICE_USER=felhom-agent
SERVICE_GROUP=felhom-agent
BIN_PATH=/usr/local/bin/felhom-agent
LIB_DIR=/usr/local/lib/felhom-agent
PRIV_DIR=/usr/local/lib/felhom-agent/priv
CONF_DIR=/etc/felhom-agent
CONF_FILE=/etc/felhom-agent/agent.json
TOKEN_FILE=/etc/felhom-agent/proxmox-token
STATE_DIR=/var/lib/felhom-agent
# sudo skips files in sudoers.d whose name contains a dot, so the name has none.
SUDOERS_FILE=/etc/sudoers.d/felhom-agent
UNIT_NAME=felhom-agent.service
UNIT_FILE=/etc/systemd/system/felhom-agent.service
WRAPPERS="pct findmnt mkdir mount tee smartctl"
COMPLETION_FILE=/usr/share/bash-completion/completions/felhom-agent
# The tunnel (--with-tunnel). The token lives in its own directory: /etc/felhom-agent is
# root:felhom-agent 0750, which cloudflared's user cannot enter, and the agent replaces the
# token by rename, which needs a directory it may write. Set-group-id, so every file the agent
# creates there belongs to the group cloudflared reads it as.
TUNNEL_DIR=/etc/felhom-tunnel
TUNNEL_TOKEN=/etc/felhom-tunnel/token
TUNNEL_USER=cloudflared
TUNNEL_BIN=/usr/bin/cloudflared
# cloudflared's --metrics address; the agent's health.tunnel.metrics_port says the same.
TUNNEL_METRICS=127.0.0.1:20241
TUNNEL_UNIT=felhom-cloudflared.service
TUNNEL_UNIT_FILE=/etc/systemd/system/felhom-cloudflared.service
TUNNEL_PATH_UNIT=felhom-cloudflared-token.path
TUNNEL_PATH_FILE=/etc/systemd/system/felhom-cloudflared-token.path
TUNNEL_RESTART_UNIT=felhom-cloudflared-restart.service
TUNNEL_RESTART_FILE=/etc/systemd/system/felhom-cloudflared-restart.service

# Options (set by parse_args).
MODE=install
BINARY=""
SUMS=""
URL=""
ROOT=""
DRY_RUN=no
PROTO=""
PURGE=no
SETUP=no
ALLOW_DOWNGRADE=no
ENROLL_CODE=""
HUB_URL=""
WITH_TUNNEL=no

# Run state.
# The uid this script runs as, asked once: every file placed checks whether it may chown.
RUN_UID=$(id -u)
WORK=""
CHANGES=0
RESTART_NEEDED=no
UNIT_CHANGED=no
LAST_CHANGED=no
BIN_VERSION=""

usage() {
  cat <<'EOF'
Usage: sh install.sh [options]

Installs felhom-agent as a systemd service running as the non-root user felhom-agent.

Source of the binary (one of):
  --binary PATH     a local felhom-agent binary; its SHA-256 is checked against --sums FILE,
                    or against SHA256SUMS in the same directory
  --url URL         download it: URL ending in '/' is a release directory (the build for this
                    CPU and SHA256SUMS are taken from it); otherwise the binary's own URL, with
                    SHA256SUMS next to it (or --sums FILE). https only (http on loopback).
  --sums FILE       a local SHA256SUMS (sha256sum format) to check the binary against

Setup (as root, after installing; see 'felhom-agent setup --help'):
  --setup           then run 'felhom-agent setup': the Proxmox role, user and token, the ACLs,
                    the token file, the certificate pin, the config, the selftest as the
                    service user, and the service enabled and started
  --enroll CODE     with --setup: also enroll with the hub using this one-time code
  --hub URL         with --enroll: the hub's https:// URL

Other options:
  --uninstall       remove what the installer put in place; keeps /etc/felhom-agent and
                    /var/lib/felhom-agent unless --purge is also given
  --purge           with --uninstall: also remove configuration, state and the service user
  --allow-downgrade install a release older than the installed one (refused without it: the
                    older version may not open the state database the newer one migrated)
  --with-tunnel     also set up the Cloudflare tunnel as an agent-managed service: the
                    felhom-cloudflared units and the token directory. cloudflared itself must
                    come from Cloudflare's signed apt repository (apt verifies the package
                    signature); the installer never downloads it. See README, "The tunnel".
  --dry-run         print every action instead of doing it (downloads and checks still run)
  --root DIR        install below DIR instead of / (image builds, tests): no user is created,
                    no package installed and systemctl is not called; owners come from
                    DIR/etc/passwd when the user is there
  -h, --help        this help

Installed: /var/lib/felhom-agent/versions/VERSION/felhom-agent with the links
/var/lib/felhom-agent/current (what the service runs) and /var/lib/felhom-agent/previous (the
version before; the two the agent's self-update keeps), /usr/local/bin/felhom-agent (a link to
current), /usr/local/lib/felhom-agent/priv/* (root wrappers), /etc/sudoers.d/felhom-agent,
/etc/systemd/system/felhom-agent.service, /etc/felhom-agent/agent.json (only when absent), and
the bash completion in /usr/share/bash-completion/completions/felhom-agent when the binary has one.
EOF
}

say() { printf '%s\n' "$*"; }
warn() { printf 'install.sh: warning: %s\n' "$*" >&2; }
die() {
  printf 'install.sh: error: %s\n' "$*" >&2
  exit 1
}
usage_error() {
  printf 'install.sh: %s\nRun sh install.sh --help for usage.\n' "$*" >&2
  exit 2
}

is_dry() { [ "$DRY_RUN" = yes ]; }
under_root() { [ -n "$ROOT" ]; }

# Shell-quotes one word for the dry-run listing, so each printed command can be pasted.
quote() {
  case $1 in
    '' | *[!A-Za-z0-9_./:=,+@%-]*) printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")" ;;
    *) printf '%s' "$1" ;;
  esac
}

# Runs a command, or prints it under --dry-run.
run() {
  if is_dry; then
    printf 'would run:'
    for word in "$@"; do
      printf ' '
      quote "$word"
    done
    printf '\n'
  else
    "$@"
  fi
}

cleanup() {
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then rm -rf -- "$WORK"; fi
}

parse_args() {
  while [ "$#" -gt 0 ]; do
    opt=$1
    shift
    case $opt in
      --binary | --sums | --url | --root | --enroll | --hub)
        [ "$#" -gt 0 ] || usage_error "$opt needs a value"
        value=$1
        shift
        set_value "$opt" "$value"
        ;;
      --binary=* | --sums=* | --url=* | --root=* | --enroll=* | --hub=*) set_value "${opt%%=*}" "${opt#*=}" ;;
      --setup) SETUP=yes ;;
      --with-tunnel) WITH_TUNNEL=yes ;;
      --uninstall) MODE=uninstall ;;
      --purge) PURGE=yes ;;
      --dry-run) DRY_RUN=yes ;;
      --allow-downgrade) ALLOW_DOWNGRADE=yes ;;
      -h | --help) MODE=help ;;
      *) usage_error "unknown option: $opt" ;;
    esac
  done
  [ "$MODE" = help ] && return 0
  check_setup_args
  if [ "$MODE" = uninstall ]; then
    [ -z "$BINARY$URL$SUMS" ] || usage_error "--uninstall takes no --binary, --url or --sums"
    [ "$ALLOW_DOWNGRADE" = no ] || usage_error "--allow-downgrade goes with an install, not --uninstall"
  else
    [ "$PURGE" = no ] || usage_error "--purge only goes with --uninstall"
    if [ -z "$BINARY" ] && [ -z "$URL" ]; then
      usage_error "give the binary to install: --binary PATH or --url URL"
    fi
    [ -z "$BINARY" ] || [ -z "$URL" ] || usage_error "give either --binary or --url, not both"
  fi
  if [ -n "$ROOT" ]; then
    case $ROOT in
      /*) ;;
      *) usage_error "--root must be an absolute path" ;;
    esac
    [ -d "$ROOT" ] || usage_error "--root $ROOT is not a directory"
    ROOT=${ROOT%/}
    [ "$ROOT" != "" ] || usage_error "--root / is the default; leave it out"
  fi
}

set_value() {
  [ -n "$2" ] || usage_error "$1 needs a value"
  case $1 in
    --binary) BINARY=$2 ;;
    --sums) SUMS=$2 ;;
    --url) URL=$2 ;;
    --root) ROOT=$2 ;;
    --enroll) ENROLL_CODE=$2 ;;
    --hub) HUB_URL=$2 ;;
  esac
}

# ---- ownership ----------------------------------------------------------------------------

# Prints the numeric uid of a user, from DIR/etc/passwd under --root; nothing when unknown.
uid_of() {
  if [ "$1" = root ]; then
    echo 0
  elif under_root; then
    [ -r "$ROOT/etc/passwd" ] && awk -F: -v n="$1" '$1 == n { print $3; exit }' "$ROOT/etc/passwd"
  else
    id -u "$1" 2>/dev/null || true
  fi
}

gid_of() {
  if [ "$1" = root ]; then
    echo 0
  elif under_root; then
    [ -r "$ROOT/etc/group" ] && awk -F: -v n="$1" '$1 == n { print $3; exit }' "$ROOT/etc/group"
  else
    getent group "$1" 2>/dev/null | cut -d: -f3
  fi
}

# "uid:gid" to chown to, or empty when the owner cannot be set (unknown user, or not root).
owner_ids() {
  [ "$RUN_UID" = 0 ] || return 0
  u=$(uid_of "$1" || true)
  g=$(gid_of "$2" || true)
  if [ -n "$u" ] && [ -n "$g" ]; then echo "$u:$g"; fi
}

# True when PATH has the mode (and, when ids are given, the owner) wanted.
attrs_match() {
  set -- "$1" "$2" "$3" "$(stat -c '%a %u:%g' -- "$1")"
  [ "${4%% *}" = "$2" ] || return 1
  [ -z "$3" ] || [ "${4#* }" = "$3" ]
}

# ---- idempotent file and directory placement ---------------------------------------------

# put_file SRC DEST MODE OWNER GROUP: DEST is replaced (atomically, by rename) only when its
# content, mode or owner differ. Sets LAST_CHANGED.
put_file() {
  src=$1 dest=$2 mode=$3
  target=$ROOT$dest
  ids=$(owner_ids "$4" "$5")
  LAST_CHANGED=no
  if [ -f "$target" ] && [ ! -L "$target" ] && cmp -s -- "$src" "$target" &&
    attrs_match "$target" "$mode" "$ids"; then
    say "unchanged  $dest"
    return 0
  fi
  LAST_CHANGED=yes
  CHANGES=$((CHANGES + 1))
  verb=install
  [ -e "$target" ] && verb=replace
  if is_dry; then
    say "would $verb $dest (mode $mode, owner $4:$5)"
    return 0
  fi
  say "$verb    $dest"
  # The temporary name has a dot: sudo ignores it in sudoers.d, systemd in its unit directory.
  tmp=$target.felhom-new
  rm -f -- "$tmp"
  cp -- "$src" "$tmp"
  chmod "$mode" "$tmp"
  [ -z "$ids" ] || chown "$ids" "$tmp"
  mv -f -- "$tmp" "$target"
}

# ensure_dir DIR MODE OWNER GROUP
ensure_dir() {
  dir=$1 mode=$2
  target=$ROOT$dir
  ids=$(owner_ids "$3" "$4")
  if [ -d "$target" ] && [ ! -L "$target" ] && attrs_match "$target" "$mode" "$ids"; then
    say "unchanged  $dir/"
    return 0
  fi
  [ ! -L "$target" ] || die "$dir is a symbolic link; refusing to use it"
  CHANGES=$((CHANGES + 1))
  if is_dry; then
    say "would create or fix $dir/ (mode $mode, owner $3:$4)"
    return 0
  fi
  say "directory $dir/ (mode $mode)"
  mkdir -p -- "$target"
  chmod "$mode" "$target"
  [ -z "$ids" ] || chown "$ids" "$target"
}

# A standard parent directory (e.g. /usr/local/bin): created when missing, never altered.
ensure_parent() {
  [ -d "$ROOT$1" ] && return 0
  if is_dry; then
    say "would create $1/"
  else
    mkdir -p -- "$ROOT$1"
  fi
}

remove_path() {
  target=$ROOT$1
  if [ ! -e "$target" ] && [ ! -L "$target" ]; then
    say "absent     $1"
    return 0
  fi
  CHANGES=$((CHANGES + 1))
  if is_dry; then
    say "would remove $1"
  else
    say "remove     $1"
    rm -rf -- "$target"
  fi
}

# ---- the binary: fetch and verify before anything else --------------------------------------

fetch() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 2 --proto "$PROTO" --proto-redir "$PROTO" -o "$2" -- "$1" ||
      die "download failed: $1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" -- "$1" || die "download failed: $1"
  else
    die "neither curl nor wget is installed; install one, or use --binary with a copied file"
  fi
}

# The binary built for this CPU: the baseline build runs on x86-64 CPUs without AVX2.
release_asset() {
  case $(uname -m) in
    x86_64 | amd64) ;;
    *) die "no felhom-agent build for $(uname -m); builds exist for x86-64 only" ;;
  esac
  if grep -qw avx2 /proc/cpuinfo 2>/dev/null; then echo felhom-agent; else echo felhom-agent-baseline; fi
}

# Sets CANDIDATE (a local file to install), its NAME_IN_SUMS and SUMS_FILE.
obtain_binary() {
  if [ -n "$URL" ]; then
    case $URL in
      https://*) PROTO="=https" ;;
      http://127.0.0.1[:/]* | http://localhost[:/]* | "http://[::1]"[:/]*) PROTO="=http,https" ;;
      *) die "--url must be https:// (plain http only on loopback): the sums come the same way" ;;
    esac
    case $URL in
      */)
        NAME_IN_SUMS=$(release_asset)
        bin_url=$URL$NAME_IN_SUMS
        sums_url=${URL}SHA256SUMS
        ;;
      *)
        bin_url=$URL
        NAME_IN_SUMS=${URL##*/}
        sums_url=${URL%/*}/SHA256SUMS
        ;;
    esac
    CANDIDATE=$WORK/download
    say "download   $bin_url"
    fetch "$bin_url" "$CANDIDATE"
    if [ -n "$SUMS" ]; then
      SUMS_FILE=$SUMS
    else
      SUMS_FILE=$WORK/SHA256SUMS
      say "download   $sums_url"
      fetch "$sums_url" "$SUMS_FILE"
    fi
  else
    [ -f "$BINARY" ] || die "--binary $BINARY: no such file"
    CANDIDATE=$BINARY
    NAME_IN_SUMS=${BINARY##*/}
    if [ -n "$SUMS" ]; then
      SUMS_FILE=$SUMS
    else
      case $BINARY in
        */*) SUMS_FILE=${BINARY%/*}/SHA256SUMS ;;
        *) SUMS_FILE=SHA256SUMS ;;
      esac
    fi
  fi
  [ -f "$SUMS_FILE" ] || die "no checksum file $SUMS_FILE; give --sums FILE (sha256sum format)"
}

verify_binary() {
  expected=$(awk -v n="$NAME_IN_SUMS" 'NF == 2 && ($2 == n || $2 == "*" n) { print tolower($1) }' \
    "$SUMS_FILE")
  case $expected in
    '') die "$SUMS_FILE has no line for $NAME_IN_SUMS; nothing was changed" ;;
    *[!0-9a-f]*) die "$SUMS_FILE: the line for $NAME_IN_SUMS is malformed or repeated; nothing was changed" ;;
  esac
  [ "${#expected}" -eq 64 ] || die "$SUMS_FILE: the line for $NAME_IN_SUMS is not a SHA-256; nothing was changed"
  actual=$(sha256sum <"$CANDIDATE" | cut -d' ' -f1)
  if [ "$actual" != "$expected" ]; then
    die "SHA-256 mismatch for $NAME_IN_SUMS: expected $expected, got $actual (corrupt or tampered download); nothing was changed"
  fi
  [ -s "$CANDIDATE" ] || die "$NAME_IN_SUMS is empty; nothing was changed"
  say "verified   $NAME_IN_SUMS sha256 $actual"
}

# ---- system user, sudo -------------------------------------------------------------------

ensure_sudo() {
  if command -v visudo >/dev/null 2>&1 && { under_root || [ -x /usr/bin/sudo ]; }; then
    return 0
  fi
  if under_root; then
    is_dry || die "visudo is needed to validate the sudoers file: install the sudo package on this machine"
    warn "visudo is missing; a real run would stop here"
    return 0
  fi
  command -v apt-get >/dev/null 2>&1 || die "sudo is not installed and apt-get is not available; install sudo first"
  say "sudo is missing: installing it"
  CHANGES=$((CHANGES + 1))
  # stdin closed: under `curl | sh` it is the script itself.
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q sudo </dev/null
}

ensure_user() {
  if under_root; then
    if [ -n "$(uid_of "$SERVICE_USER")" ]; then
      say "unchanged  user $SERVICE_USER (in $ROOT/etc/passwd)"
    else
      say "skipped    user $SERVICE_USER: not created under --root (files stay owned by root)"
    fi
    return 0
  fi
  if id -u "$SERVICE_USER" >/dev/null 2>&1; then
    say "unchanged  user $SERVICE_USER"
    return 0
  fi
  CHANGES=$((CHANGES + 1))
  # A system account with no home and no login shell: it only runs the service.
  if getent group "$SERVICE_GROUP" >/dev/null 2>&1; then
    group_opt="--gid $SERVICE_GROUP"
  else
    group_opt=--user-group
  fi
  # shellcheck disable=SC2086 # group_opt is one or two words on purpose
  run useradd --system $group_opt --home-dir /nonexistent --no-create-home \
    --shell /usr/sbin/nologin --comment "felhom-agent service" "$SERVICE_USER"
}

# ---- generated files ---------------------------------------------------------------------

# The part every wrapper shares. Wrappers run as root through sudo with a reset environment;
# they accept only the argument shapes the agent sends and refuse everything else (exit 64)
# before the real command runs. Patterns are the agent's own (its privileged module).
wrapper_head() {
  cat <<EOF
#!/bin/sh
# felhom-agent root wrapper '$1', installed by install.sh (re-run it instead of editing).
# Runs as root through sudo: /etc/sudoers.d/felhom-agent names this file. It accepts only the
# exact argument shape the agent sends, checks every value against a strict pattern, and
# refuses anything else before anything runs.
set -eu
PATH=/usr/sbin:/usr/bin:/sbin:/bin
LC_ALL=C
export PATH LC_ALL
umask 022
WRAPPER='$1'
EOF
  [ -z "$2" ] || printf "REAL='%s'\n" "$2"
  cat <<'EOF'
NL='
'

refuse() {
  printf 'felhom-agent %s: refused: %s\n' "$WRAPPER" "$*" >&2
  exit 64
}

# Whole-value match of an extended regular expression; empty values and newlines never match.
matches() {
  case $2 in '' | *"$NL"*) return 1 ;; esac
  printf '%s\n' "$2" | grep -Eqx -- "$1"
}
EOF
  for helper in $3; do
    case $helper in
      mountpoint)
        cat <<'EOF'

# A USB mountpoint: strictly below /mnt or /media, plain segments (no '.', '..', spaces),
# never Proxmox's own /mnt/pve where it mounts network storages.
valid_mountpoint() {
  [ "${#1}" -le 1024 ] || return 1
  matches '/(mnt|media)(/[A-Za-z0-9_][A-Za-z0-9._-]*)+' "$1" || return 1
  case $1 in /mnt/pve | /mnt/pve/*) return 1 ;; esac
}
EOF
        ;;
      safepath)
        cat <<'EOF'

# Every existing component of the path is a real directory, owned by root and not writable by
# group or others: the service user cannot swap in a symbolic link between check and use.
safe_path() {
  rest=${1#/}
  path=
  while [ -n "$rest" ]; do
    seg=${rest%%/*}
    case $rest in */*) rest=${rest#*/} ;; *) rest= ;; esac
    path=$path/$seg
    if [ -L "$path" ]; then refuse "$path is a symbolic link"; fi
    if [ ! -e "$path" ]; then return 0; fi
    if [ ! -d "$path" ]; then refuse "$path is not a directory"; fi
    owner_mode=$(stat -c '%u %a' -- "$path")
    if [ "${owner_mode%% *}" != 0 ]; then refuse "$path is not owned by root"; fi
    mode=${owner_mode#* }
    group_digit=${mode%?}
    group_digit=${group_digit#"${group_digit%?}"}
    case ${mode#"${mode%?}"}$group_digit in
      *[2367]*) refuse "$path is writable by group or others" ;;
    esac
  done
}
EOF
        ;;
      range)
        cat <<'EOF'

# A decimal number without leading zeros, within [min, max].
in_range() {
  matches '(0|[1-9][0-9]{0,9})' "$1" && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}
EOF
        ;;
    esac
  done
  echo
}

wrapper_body() {
  case $1 in
    pct)
      cat <<'EOF'
# Golden image only: `pct create` of an unprivileged container with nesting=1,keyctl=1, the
# one feature set an API token can never set (only root@pam may).
STORAGE='[A-Za-z][A-Za-z0-9_.-]*[A-Za-z0-9]'
OCTET='(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
IPV4="$OCTET(\\.$OCTET){3}"
LABEL='[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?'

check() {
  [ "$#" -ge 9 ] || refuse "expected: create VMID STORAGE:vztmpl/FILE --unprivileged 1 --features nesting=1,keyctl=1 --rootfs STORAGE:GB [options]"
  [ "$1" = create ] || refuse "only 'create' is allowed"
  matches '[1-9][0-9]{2,8}' "$2" || refuse "VMID must be 100..999999999"
  matches "$STORAGE:vztmpl/[A-Za-z0-9][A-Za-z0-9._+-]*\\.(tar|tar\\.gz|tar\\.xz|tar\\.zst|tgz)" "$3" ||
    refuse "template must be STORAGE:vztmpl/FILE.tar.(gz|xz|zst)"
  [ "$4 $5 $6 $7 $8" = "--unprivileged 1 --features nesting=1,keyctl=1 --rootfs" ] ||
    refuse "expected --unprivileged 1 --features nesting=1,keyctl=1 --rootfs after the template"
  if ! matches "$STORAGE:[0-9]+" "$9" || ! in_range "${9##*:}" 1 65536; then
    refuse "rootfs must be STORAGE:GB (1..65536)"
  fi
  shift 9
  seen=
  while [ "$#" -gt 0 ]; do
    [ "$#" -ge 2 ] || refuse "option $1 needs a value"
    case " $seen " in *" $1 "*) refuse "option $1 given twice" ;; esac
    seen="$seen $1"
    case $1 in
      --cores) in_range "$2" 1 512 || refuse "--cores must be 1..512" ;;
      --memory) in_range "$2" 16 4194304 || refuse "--memory must be 16..4194304" ;;
      --swap) in_range "$2" 0 4194304 || refuse "--swap must be 0..4194304" ;;
      --hostname)
        if [ "${#2}" -gt 253 ] || ! matches "$LABEL(\\.$LABEL)*" "$2"; then
          refuse "--hostname must be a DNS host name"
        fi
        ;;
      --net0)
        matches "name=eth0,bridge=[A-Za-z][A-Za-z0-9_]{0,14},ip=(dhcp|$IPV4/(3[0-2]|[12]?[0-9]))(,gw=$IPV4)?" "$2" ||
          refuse "--net0 must be name=eth0,bridge=BRIDGE,ip=(dhcp|A.B.C.D/N)[,gw=A.B.C.D]"
        ;;
      *) refuse "option $1 is not allowed" ;;
    esac
    shift 2
  done
}

check "$@"
exec "$REAL" "$@"
EOF
      ;;
    findmnt)
      cat <<'EOF'
# Read-only: the two queries the USB mount makes (fstab entries; what is mounted at a path).
if [ "$#" -eq 4 ] && [ "$*" = "--fstab --json --output SOURCE,TARGET,FSTYPE,OPTIONS" ]; then
  exec "$REAL" --fstab --json --output SOURCE,TARGET,FSTYPE,OPTIONS
fi
if [ "$#" -eq 5 ] && [ "$1 $2 $3 $4" = "--json --output SOURCE,TARGET,FSTYPE,UUID --mountpoint" ]; then
  valid_mountpoint "$5" || refuse "mountpoint must be strictly below /mnt or /media (not /mnt/pve)"
  exec "$REAL" --json --output SOURCE,TARGET,FSTYPE,UUID --mountpoint "$5"
fi
refuse "expected --fstab --json --output SOURCE,TARGET,FSTYPE,OPTIONS, or --json --output SOURCE,TARGET,FSTYPE,UUID --mountpoint PATH"
EOF
      ;;
    mkdir)
      cat <<'EOF'
# Creates a USB mountpoint below /mnt or /media, nowhere else.
if [ "$#" -ne 2 ] || [ "$1" != -p ]; then refuse "expected -p MOUNTPOINT"; fi
valid_mountpoint "$2" || refuse "mountpoint must be strictly below /mnt or /media (not /mnt/pve)"
safe_path "$2"
exec "$REAL" -p "$2"
EOF
      ;;
    mount)
      cat <<'EOF'
# Mounts one filesystem by UUID, always nosuid,nodev,noexec, on an empty mountpoint below /mnt
# or /media that is not already a mount point (nothing gets shadowed), and only a filesystem
# of an allowed type on a USB-attached disk: udev's ID_BUS of the UUID's device is "usb"
# (udev's usb_id sets it on the disk and its partitions inherit it), so the agent can never
# mount the host's own disks, a Proxmox storage or a guest volume elsewhere.
BLKID='/usr/sbin/blkid'
UDEVADM='/usr/bin/udevadm'
FSTYPES='ext4 ext3 ext2 xfs btrfs vfat exfat ntfs3'
[ "$#" -eq 4 ] || [ "$#" -eq 6 ] || refuse "expected -o nosuid,nodev,noexec [-t FSTYPE] UUID=UUID MOUNTPOINT"
[ "$1 $2" = "-o nosuid,nodev,noexec" ] || refuse "options must be exactly -o nosuid,nodev,noexec"
shift 2
fstype=
if [ "$#" -eq 4 ]; then
  [ "$1" = -t ] || refuse "expected -t FSTYPE"
  case $2 in
    ext4 | ext3 | ext2 | xfs | btrfs | vfat | exfat | ntfs3) fstype=$2 ;;
    *) refuse "filesystem type must be one of ext4 ext3 ext2 xfs btrfs vfat exfat ntfs3" ;;
  esac
  shift 2
fi
case $1 in UUID=*) uuid=${1#UUID=} ;; *) refuse "source must be UUID=..." ;; esac
matches '([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}|[0-9A-Fa-f]{16})' "$uuid" ||
  refuse "not a filesystem UUID"
valid_mountpoint "$2" || refuse "mountpoint must be strictly below /mnt or /media (not /mnt/pve)"
safe_path "$2"
[ -d "$2" ] || refuse "$2 does not exist"
! mountpoint -q -- "$2" || refuse "$2 is already a mount point"
entries=$(ls -A -- "$2") || refuse "cannot list $2"
[ -z "$entries" ] || refuse "$2 is not empty (mounting would hide what is in it)"
dev=$("$BLKID" -U "$uuid" 2>/dev/null) || refuse "no filesystem with UUID $uuid"
matches '/dev/[A-Za-z0-9][A-Za-z0-9._/-]*' "$dev" || refuse "no filesystem with UUID $uuid"
props=$("$UDEVADM" info --query=property --name="$dev" 2>/dev/null) ||
  refuse "udev knows nothing about $dev (UUID $uuid)"
case "$NL$props$NL" in
  *"${NL}ID_BUS=usb$NL"*) ;;
  *) refuse "$dev (UUID $uuid) is not on a USB-attached disk (udev ID_BUS is not usb)" ;;
esac
found=$(printf '%s\n' "$props" | sed -n 's/^ID_FS_TYPE=//p')
case " $FSTYPES " in
  *" $found "*) ;;
  *) refuse "$dev holds a '$found' filesystem; allowed: $FSTYPES" ;;
esac
[ -z "$fstype" ] || [ "$fstype" = "$found" ] || refuse "$dev holds $found, not $fstype"
# The device that was checked is the one mounted: UUID= could match another disk with a copy
# of the same filesystem.
exec "$REAL" -o nosuid,nodev,noexec -t "$found" "$dev" "$2"
EOF
      ;;
    tee)
      cat <<'EOF'
# Appends one USB entry to fstab. The entry arrives on stdin in the agent's exact form; it is
# parsed, every field checked, and the line written is rebuilt from the checked fields.
FSTAB='/etc/fstab'
if [ "$#" -ne 2 ] || [ "$1" != -a ] || [ "$2" != "$FSTAB" ]; then refuse "expected -a $FSTAB"; fi
input=$(head -c 4097)
[ "${#input}" -le 4096 ] || refuse "entry too long"
while :; do
  case $input in "$NL"*) input=${input#"$NL"} ;; *) break ;; esac
done
case $input in *"$NL"*) ;; *) refuse "expected a comment line and an entry line" ;; esac
comment=${input%%"$NL"*}
entry=${input#*"$NL"}
[ "$comment" = "# felhom-agent: USB storage" ] || refuse "first line must be '# felhom-agent: USB storage'"
case $entry in *"$NL"*) refuse "exactly one entry line is allowed" ;; esac
set -f
# shellcheck disable=SC2086 # split the entry into its fstab fields
set -- $entry
set +f
[ "$#" -eq 6 ] || refuse "entry must have 6 fields"
case $1 in UUID=*) uuid=${1#UUID=} ;; *) refuse "source must be UUID=..." ;; esac
matches '([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}|[0-9A-Fa-f]{16})' "$uuid" ||
  refuse "not a filesystem UUID"
valid_mountpoint "$2" || refuse "mountpoint must be strictly below /mnt or /media (not /mnt/pve)"
case $3 in
  auto | ext4 | ext3 | ext2 | xfs | btrfs | vfat | exfat | ntfs3) ;;
  *) refuse "filesystem type not allowed" ;;
esac
[ "$4 $5 $6" = "nofail,nosuid,nodev,noexec 0 0" ] || refuse "options must be nofail,nosuid,nodev,noexec 0 0"
if [ -f "$FSTAB" ] && awk -v s="UUID=$uuid" -v t="$2" \
  '$1 !~ /^#/ && (toupper($1) == toupper(s) || $2 == t) { found = 1 } END { exit !found }' "$FSTAB"; then
  refuse "fstab already has an entry for UUID=$uuid or $2"
fi
printf '\n# felhom-agent: USB storage\n%s %s %s nofail,nosuid,nodev,noexec 0 0\n' "UUID=$uuid" "$2" "$3" >>"$FSTAB"
EOF
      ;;
    smartctl)
      cat <<'EOF'
# Read-only SMART report of one disk: -a -j [-d TYPE] DEVICE, nothing that changes a setting.
[ "$#" -eq 3 ] || [ "$#" -eq 5 ] || refuse "expected -a -j [-d TYPE] DEVICE"
[ "$1 $2" = "-a -j" ] || refuse "expected -a -j first"
shift 2
if [ "$#" -eq 3 ]; then
  [ "$1" = -d ] || refuse "expected -d TYPE"
  case $2 in auto | sat | scsi | nvme | ata) ;; *) refuse "device type must be auto, sat, scsi, nvme or ata" ;; esac
  dtype=$2
  shift 2
fi
matches '/dev/(sd[a-z]{1,2}|hd[a-z]|vd[a-z]{1,2}|nvme[0-9]{1,3}(n[0-9]{1,3})?|disk/by-id/[A-Za-z0-9][A-Za-z0-9._:+-]{0,199})' "$1" ||
  refuse "device must be /dev/sdX, /dev/nvmeN[nM], /dev/vdX, /dev/hdX or /dev/disk/by-id/NAME"
if [ -n "${dtype:-}" ]; then
  exec "$REAL" -a -j -d "$dtype" "$1"
fi
exec "$REAL" -a -j "$1"
EOF
      ;;
  esac
}

wrapper_helpers() {
  case $1 in
    pct) echo range ;;
    findmnt | tee) echo mountpoint ;;
    mkdir | mount) echo mountpoint safepath ;;
  esac
}

# The tool each wrapper runs; the fstab one appends by itself and runs none.
real_command() {
  case $1 in
    pct) echo /usr/sbin/pct ;;
    findmnt) echo /usr/bin/findmnt ;;
    mkdir) echo /usr/bin/mkdir ;;
    mount) echo /usr/bin/mount ;;
    tee) ;;
    smartctl) echo /usr/sbin/smartctl ;;
  esac
}

sudoers_text() {
  cat <<EOF
# felhom-agent: what the service user may run as root, and nothing else. Written by
# install.sh, which replaces this file on every run: change the installer, not this file.
#
# The three fenced root operations: the golden image 'pct create' with keyctl, a USB disk
# mounted by UUID (and its fstab entry), SMART and sensor readings. Each command below is a
# fixed path. There are no argument wildcards: a sudoers '*' also matches spaces and options
# and would widen a rule. Commands whose arguments vary are root-owned wrappers in
# $PRIV_DIR that accept only the exact shapes the agent sends and
# check every value before running the real tool; 'sensors -j' takes no varying argument.
Cmnd_Alias FELHOM_GOLDEN = $PRIV_DIR/pct
Cmnd_Alias FELHOM_USB = $PRIV_DIR/findmnt, $PRIV_DIR/mkdir, \\
                        $PRIV_DIR/mount, $PRIV_DIR/tee
Cmnd_Alias FELHOM_HW = $PRIV_DIR/smartctl, /usr/bin/sensors -j
$SERVICE_USER ALL = (root) NOPASSWD: FELHOM_GOLDEN, FELHOM_USB, FELHOM_HW
EOF
}

# systemd >= 254 grows the restart delay by itself (RestartSteps, RestartMaxDelaySec); older
# versions log "Unknown key" for them, so they are written only where they work.
systemd_version() {
  command -v systemctl >/dev/null 2>&1 || {
    echo 0
    return 0
  }
  systemctl --version 2>/dev/null | awk 'NR == 1 { v = $2 + 0 } END { print v + 0 }'
}

unit_text() {
  cat <<EOF
# felhom-agent: the Felhom host agent. Written by install.sh, which replaces this file on
# every run; put local changes in a drop-in (systemctl edit $UNIT_NAME).
[Unit]
Description=Felhom host agent for Proxmox VE
Wants=network-online.target
After=network-online.target pve-cluster.service pveproxy.service
# Never give up: the agent must keep running while Proxmox or the hub is briefly away, and it
# waits for them itself (there is no start-up gate on the self-test).
StartLimitIntervalSec=0

[Service]
Type=simple
User=$SERVICE_USER
Group=$SERVICE_GROUP
# The link the agent's self-update switches (docs/self-update.md#layout).
ExecStart=$STATE_DIR/current/felhom-agent --config $CONF_FILE run
# Optional FELHOM_AGENT_* overrides (e.g. the token), kept off the command line; mode 0600.
EnvironmentFile=-$CONF_DIR/agent.env
StateDirectory=felhom-agent
StateDirectoryMode=0700
UMask=0077
Restart=always
RestartSec=5s
EOF
  if [ "$(systemd_version)" -ge 254 ]; then
    cat <<'EOF'
RestartSteps=10
RestartMaxDelaySec=5min
EOF
  fi
  cat <<'EOF'
# The process holds the Proxmox token in memory: no core dumps.
LimitCORE=0
# Resource bounds, so a hub or a guest that makes the agent misbehave cannot take the host
# down with it. Measured with bench/daemon-footprint.ts (503 guests, 64 local-API callers):
# peak RSS 133 MiB, 9 threads, 94 open files. The cgroup also holds the root commands sudo
# starts (pct create unpacking the golden image), hence the margin; README, "Resource limits".
MemoryMax=512M
TasksMax=256
LimitNOFILE=4096
#
# Why the sandboxing stops here (do not "harden" this unit further without reading this):
# the agent runs its three root operations through sudo, which is setuid root, and those
# root commands run inside this service's namespaces.
# - NoNewPrivileges must stay off, and so must every setting that turns it on for a service
#   with User= (systemd.exec): DynamicUser, LockPersonality, MemoryDenyWriteExecute,
#   PrivateDevices, ProtectClock, ProtectHostname, ProtectKernelLogs, ProtectKernelModules,
#   ProtectKernelTunables, RestrictAddressFamilies, RestrictNamespaces, RestrictRealtime,
#   RestrictSUIDSGID, SystemCallArchitectures, SystemCallFilter, SystemCallLog. With any of
#   them sudo cannot become root and every fenced operation fails.
# - No private mount namespace (ProtectSystem, ProtectHome, PrivateTmp, ProtectProc,
#   ReadOnlyPaths, ReadWritePaths, InaccessiblePaths, TemporaryFileSystem, BindPaths): a USB
#   disk mounted inside it would be invisible to the host and to Proxmox, and pct create
#   must write /etc/pve and /var/lib/lxc.
# - No CapabilityBoundingSet or PrivateUsers: they also bind the root commands sudo starts.
# The confinement is the unprivileged user plus the sudoers allowlist of checking wrappers.
NoNewPrivileges=no

[Install]
WantedBy=multi-user.target
EOF
}

# ---- the tunnel (--with-tunnel) ------------------------------------------------------------

# cloudflared must be the Debian package from Cloudflare's signed repository: apt checked its
# signature when it was installed. A binary that no package owns is refused, never replaced.
check_cloudflared() {
  [ -x "$ROOT$TUNNEL_BIN" ] ||
    die "--with-tunnel: $TUNNEL_BIN is missing; install the cloudflared package from Cloudflare's apt repository first (README, \"The tunnel\")"
  under_root && return 0
  if ! dpkg-query -S "$TUNNEL_BIN" >/dev/null 2>&1; then
    die "--with-tunnel: $TUNNEL_BIN belongs to no Debian package; install cloudflared with apt from Cloudflare's signed repository"
  fi
}

ensure_tunnel_user() {
  if under_root; then
    say "skipped    user $TUNNEL_USER: not created under --root"
    return 0
  fi
  if id -u "$TUNNEL_USER" >/dev/null 2>&1; then
    say "unchanged  user $TUNNEL_USER"
    return 0
  fi
  CHANGES=$((CHANGES + 1))
  run useradd --system --user-group --home-dir /nonexistent --no-create-home \
    --shell /usr/sbin/nologin --comment "cloudflared for felhom-agent" "$TUNNEL_USER"
}

tunnel_unit_text() {
  cat <<EOF
# felhom-cloudflared: the Cloudflare tunnel, managed by felhom-agent. Written by install.sh
# --with-tunnel, which replaces this file on every run. The token comes from the hub
# (tunnel.configure); felhom-cloudflared-token.path restarts this unit when it changes.
[Unit]
Description=Cloudflare tunnel for Felhom (managed by felhom-agent)
Wants=network-online.target
After=network-online.target
# No token yet: nothing to run until the agent writes one.
ConditionPathExists=$TUNNEL_TOKEN
StartLimitIntervalSec=0

[Service]
Type=notify
User=$TUNNEL_USER
Group=$TUNNEL_USER
# --no-autoupdate: cloudflared is updated by apt like any package, never by itself.
# --metrics on a fixed loopback port: the agent reads /ready there.
ExecStart=$TUNNEL_BIN --no-autoupdate tunnel --metrics $TUNNEL_METRICS run --token-file $TUNNEL_TOKEN
Restart=on-failure
RestartSec=5s
TimeoutStartSec=30s
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes

[Install]
WantedBy=multi-user.target
EOF
}

tunnel_path_text() {
  cat <<EOF
# Restarts the Felhom tunnel when felhom-agent replaces its token, so the agent needs no
# sudo rule for it. Written by install.sh --with-tunnel.
[Unit]
Description=Watch the Felhom tunnel token

[Path]
PathChanged=$TUNNEL_TOKEN
Unit=$TUNNEL_RESTART_UNIT

[Install]
WantedBy=multi-user.target
EOF
}

tunnel_restart_text() {
  cat <<EOF
# Started by $TUNNEL_PATH_UNIT when the token changes. Written by install.sh --with-tunnel.
[Unit]
Description=Restart the Felhom tunnel after a token change

[Service]
Type=oneshot
ExecStart=/usr/bin/systemctl restart $TUNNEL_UNIT
EOF
}

install_tunnel_files() {
  check_cloudflared
  ensure_tunnel_user
  group=$TUNNEL_USER
  [ -n "$(gid_of "$group")" ] || group=root
  ensure_dir "$TUNNEL_DIR" 2750 "$SERVICE_USER" "$group"
  tunnel_unit_text >"$WORK/tunnel-unit"
  put_file "$WORK/tunnel-unit" "$TUNNEL_UNIT_FILE" 644 root root
  [ "$LAST_CHANGED" = no ] || UNIT_CHANGED=yes
  tunnel_path_text >"$WORK/tunnel-path"
  put_file "$WORK/tunnel-path" "$TUNNEL_PATH_FILE" 644 root root
  [ "$LAST_CHANGED" = no ] || UNIT_CHANGED=yes
  tunnel_restart_text >"$WORK/tunnel-restart"
  put_file "$WORK/tunnel-restart" "$TUNNEL_RESTART_FILE" 644 root root
  [ "$LAST_CHANGED" = no ] || UNIT_CHANGED=yes
}

# The tunnel's units go with the agent; the token directory only with --purge. cloudflared
# itself is the operator's package and stays.
uninstall_tunnel() {
  if ! under_root && systemd_running && [ -e "$TUNNEL_UNIT_FILE" ]; then
    run systemctl disable --now "$TUNNEL_PATH_UNIT" "$TUNNEL_UNIT" || warn "could not stop the tunnel"
  fi
  remove_path "$TUNNEL_PATH_FILE"
  remove_path "$TUNNEL_RESTART_FILE"
  remove_path "$TUNNEL_UNIT_FILE"
}

tunnel_service_actions() {
  if under_root || ! systemd_running; then
    say "skipped    enabling $TUNNEL_PATH_UNIT and $TUNNEL_UNIT"
    return 0
  fi
  run systemctl daemon-reload
  for u in "$TUNNEL_PATH_UNIT" "$TUNNEL_UNIT"; do
    if ! systemctl is-enabled --quiet "$u" 2>/dev/null; then
      CHANGES=$((CHANGES + 1))
      run systemctl enable --now "$u"
    fi
  done
}

# The node name Proxmox uses is the short host name.
node_name() {
  if under_root; then
    name=$(cut -d. -f1 "$ROOT/etc/hostname" 2>/dev/null | head -n 1 || true)
  else
    name=$(uname -n | cut -d. -f1)
  fi
  case $name in
    '' | *[!A-Za-z0-9-]*) echo pve ;;
    *) echo "$name" ;;
  esac
}

config_text() {
  cat <<EOF
{
  "proxmox": {
    "endpoint": "https://127.0.0.1:8006",
    "node": "$(node_name)",
    "token_file": "$TOKEN_FILE"
  },
  "privileged": {
    "mode": "sudo",
    "sudo_path": "/usr/bin/sudo"
  },
  "state_dir": "$STATE_DIR",
  "log": {
    "level": "info"
  }
}
EOF
}

# ---- one-command setup and shell completion ---------------------------------------------

check_setup_args() {
  if [ -n "$ENROLL_CODE$HUB_URL" ]; then
    [ "$SETUP" = yes ] || usage_error "--enroll and --hub go with --setup"
    if [ -z "$ENROLL_CODE" ] || [ -z "$HUB_URL" ]; then
      usage_error "--enroll CODE and --hub URL go together"
    fi
  fi
  [ "$SETUP" = no ] || [ "$MODE" = install ] || usage_error "--setup goes with an install, not --uninstall"
}

# The binary the service runs, reached through the relative link current -> versions/VERSION so
# that it stays inside --root (BIN_PATH is an absolute link that would leave it).
installed_binary() {
  printf '%s\n' "$ROOT$STATE_DIR/current/felhom-agent"
}

# The completion script comes from the binary itself ('felhom-agent completion bash'); a
# binary without that command prints something else, which is not installed. The installed
# copy is the one run (a download is not executable, and the temporary directory may be
# mounted noexec); a dry run has only the candidate, when it is executable.
install_completion() {
  exe=$(installed_binary)
  if is_dry; then exe=$CANDIDATE; fi
  if [ ! -x "$exe" ]; then
    say "skipped    bash completion: $exe is not executable here (a dry run of a download)"
    return 0
  fi
  if "$exe" completion bash >"$WORK/completion" 2>/dev/null &&
    grep -q '^complete .*felhom-agent' "$WORK/completion"; then
    ensure_parent /usr/share/bash-completion/completions
    put_file "$WORK/completion" "$COMPLETION_FILE" 644 root root
  else
    say "skipped    bash completion: this felhom-agent has no 'completion bash' command"
  fi
}

# Hands over to the installed binary, which does the Proxmox side as root. The token it makes
# never passes through this script.
run_setup() {
  say ""
  say "setup      felhom-agent setup"
  set -- setup
  if under_root; then set -- "$@" --root "$ROOT"; fi
  if [ -n "$ENROLL_CODE" ]; then set -- "$@" --enroll "$ENROLL_CODE" --hub "$HUB_URL"; fi
  if is_dry; then
    run "$BIN_PATH" "$@"
    return 0
  fi
  # Under `curl | sh` stdin is the script itself: the enrollment asks on the terminal instead.
  if [ ! -t 0 ] && (: </dev/tty) 2>/dev/null; then
    "$(installed_binary)" "$@" </dev/tty ||
      die "felhom-agent setup failed (its message is above); fix that and run: felhom-agent setup"
  else
    "$(installed_binary)" "$@" ||
      die "felhom-agent setup failed (its message is above); fix that and run: felhom-agent setup"
  fi
}

# ---- versions layout (docs/self-update.md#layout) -----------------------------------------

# The version the verified binary reports (`version --json`), so it lands where the agent's own
# self-update would put it: versions/VERSION/felhom-agent.
binary_version() {
  cp -- "$CANDIDATE" "$WORK/probe"
  chmod 755 "$WORK/probe"
  v=$("$WORK/probe" version --json 2>/dev/null </dev/null |
    sed -n 's/.*"version"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' | head -n 1) || v=""
  printf '%s\n' "$v" | grep -Eq '^[0-9]+[.][0-9]+[.][0-9]+(-[0-9A-Za-z.-]+)?$' ||
    die "$NAME_IN_SUMS does not report a version ('version --json'); is it a felhom-agent build? nothing was changed"
  printf '%s\n' "$v"
}

# version_lt A B: true when version A orders before B the semver way (docs/self-update.md#downgrades):
# MAJOR.MINOR.PATCH numerically, then a prerelease before the release, prereleases field by
# field (numeric fields as numbers and before alphanumeric ones).
version_lt() {
  a_core=${1%%-*} b_core=${2%%-*}
  a_pre="" b_pre=""
  case $1 in *-*) a_pre=${1#*-} ;; esac
  case $2 in *-*) b_pre=${2#*-} ;; esac
  for _ in 1 2 3; do
    a_n=${a_core%%.*} b_n=${b_core%%.*}
    if [ "$a_n" -lt "$b_n" ]; then return 0; fi
    if [ "$a_n" -gt "$b_n" ]; then return 1; fi
    a_core=${a_core#*.} b_core=${b_core#*.}
  done
  [ -n "$a_pre$b_pre" ] || return 1
  [ -n "$a_pre" ] || return 1
  [ -n "$b_pre" ] || return 0
  while :; do
    [ -n "$b_pre" ] || return 1
    [ -n "$a_pre" ] || return 0
    a_f=${a_pre%%.*} b_f=${b_pre%%.*}
    if [ "$a_f" != "$b_f" ]; then
      a_num=no b_num=no
      case $a_f in '' | *[!0-9]*) ;; *) a_num=yes ;; esac
      case $b_f in '' | *[!0-9]*) ;; *) b_num=yes ;; esac
      if [ $a_num = yes ] && [ $b_num = yes ]; then [ "$a_f" -lt "$b_f" ] && return 0 || return 1; fi
      [ $a_num = no ] || return 0
      [ $b_num = no ] || return 1
      [ "$(printf '%s\n%s\n' "$a_f" "$b_f" | LC_ALL=C sort | head -n 1)" = "$a_f" ] && return 0 || return 1
    fi
    case $a_pre in *.*) a_pre=${a_pre#*.} ;; *) a_pre="" ;; esac
    case $b_pre in *.*) b_pre=${b_pre#*.} ;; *) b_pre="" ;; esac
  done
}

# An older release than the one current names is refused unless --allow-downgrade: the older
# binary refuses a state database whose schema a newer version migrated
# (docs/self-update.md#downgrades). Checked before anything changes.
check_downgrade() {
  was=$(readlink -- "$ROOT$STATE_DIR/current" 2>/dev/null || true)
  case $was in
    versions/*) installed=${was#versions/} ;;
    *) return 0 ;;
  esac
  printf '%s\n' "$installed" | grep -Eq '^[0-9]+[.][0-9]+[.][0-9]+(-[0-9A-Za-z.-]+)?$' || return 0
  version_lt "$BIN_VERSION" "$installed" || return 0
  if [ "$ALLOW_DOWNGRADE" = no ]; then
    die "$BIN_VERSION is older than the installed $installed; nothing was changed. An older version may not open the state database a newer one migrated: to go back anyway, run again with --allow-downgrade (and restore a state copy of that version if it refuses the database: felhom-agent state restore FILE)"
  fi
  warn "installing $BIN_VERSION over the newer $installed (--allow-downgrade): if it refuses the state database, restore a copy of that version's state (felhom-agent state restore $STATE_DIR/versions/$BIN_VERSION/state.db, when there is one)"
}

# set_link TARGET LINK: LINK (a symbolic link) names TARGET, replaced in one rename. Sets
# LAST_CHANGED.
set_link() {
  target=$1 link=$2
  LAST_CHANGED=no
  if [ -L "$ROOT$link" ] && [ "$(readlink -- "$ROOT$link")" = "$target" ]; then
    say "unchanged  $link -> $target"
    return 0
  fi
  [ -L "$ROOT$link" ] || [ ! -d "$ROOT$link" ] || die "$link is a directory, not a link; refusing to replace it"
  LAST_CHANGED=yes
  CHANGES=$((CHANGES + 1))
  if is_dry; then
    say "would link $link -> $target"
    return 0
  fi
  say "link       $link -> $target"
  rm -f -- "$ROOT$link.felhom-new"
  ln -s -- "$target" "$ROOT$link.felhom-new"
  ids=$(owner_ids "$SERVICE_USER" "$SERVICE_GROUP")
  case $link in
    "$STATE_DIR"/*) [ -z "$ids" ] || chown -h "$ids" "$ROOT$link.felhom-new" ;;
  esac
  mv -Tf -- "$ROOT$link.felhom-new" "$ROOT$link"
}

# Points current at VERSION; the version it named before becomes previous. Sets RESTART_NEEDED.
switch_current() {
  want=versions/$1
  was=$(readlink -- "$ROOT$STATE_DIR/current" 2>/dev/null || true)
  [ "$was" != "$want" ] || {
    say "unchanged  $STATE_DIR/current -> $want"
    return 0
  }
  [ -z "$was" ] || set_link "$was" "$STATE_DIR/previous"
  set_link "$want" "$STATE_DIR/current"
  RESTART_NEEDED=yes
}

# Keeps exactly the versions current and previous name, as the agent does after an update.
prune_versions() {
  keep_cur=$(readlink -- "$ROOT$STATE_DIR/current" 2>/dev/null || true)
  keep_prev=$(readlink -- "$ROOT$STATE_DIR/previous" 2>/dev/null || true)
  [ -d "$ROOT$STATE_DIR/versions" ] || return 0
  for d in "$ROOT$STATE_DIR"/versions/*; do
    [ -d "$d" ] || continue
    name=versions/${d##*/}
    [ "$name" = "$keep_cur" ] || [ "$name" = "$keep_prev" ] || remove_path "$STATE_DIR/$name"
  done
}

# ---- install ------------------------------------------------------------------------------

install_files() {
  ensure_parent /usr/local/bin
  ensure_parent /usr/local/lib
  ensure_parent /etc/sudoers.d
  ensure_parent /etc/systemd/system
  ensure_parent /var/lib

  ensure_dir "$CONF_DIR" 750 root "$SERVICE_GROUP"
  ensure_dir "$STATE_DIR" 700 "$SERVICE_USER" "$SERVICE_GROUP"
  ensure_dir "$LIB_DIR" 755 root root
  ensure_dir "$PRIV_DIR" 755 root root

  version=$BIN_VERSION
  ensure_dir "$STATE_DIR/versions" 700 "$SERVICE_USER" "$SERVICE_GROUP"
  ensure_dir "$STATE_DIR/versions/$version" 700 "$SERVICE_USER" "$SERVICE_GROUP"
  put_file "$CANDIDATE" "$STATE_DIR/versions/$version/felhom-agent" 700 "$SERVICE_USER" "$SERVICE_GROUP"
  [ "$LAST_CHANGED" = no ] || RESTART_NEEDED=yes
  switch_current "$version"
  set_link "$STATE_DIR/current/felhom-agent" "$BIN_PATH"
  prune_versions

  for w in $WRAPPERS; do
    {
      wrapper_head "$w" "$(real_command "$w")" "$(wrapper_helpers "$w")"
      wrapper_body "$w"
    } >"$WORK/wrapper-$w"
    put_file "$WORK/wrapper-$w" "$PRIV_DIR/$w" 755 root root
  done

  sudoers_text >"$WORK/sudoers"
  chmod 440 "$WORK/sudoers"
  if command -v visudo >/dev/null 2>&1; then
    visudo -c -q -f "$WORK/sudoers" >/dev/null ||
      die "visudo rejects the generated sudoers file; nothing more was changed"
  fi
  put_file "$WORK/sudoers" "$SUDOERS_FILE" 440 root root

  unit_text >"$WORK/unit"
  put_file "$WORK/unit" "$UNIT_FILE" 644 root root
  if [ "$LAST_CHANGED" = yes ]; then
    UNIT_CHANGED=yes
    RESTART_NEEDED=yes
  fi

  install_completion

  # The operator owns the configuration once it exists: it is never overwritten.
  if [ -e "$ROOT$CONF_FILE" ]; then
    say "kept       $CONF_FILE (exists)"
  else
    config_text >"$WORK/agent.json"
    put_file "$WORK/agent.json" "$CONF_FILE" 640 root "$SERVICE_GROUP"
  fi
}

systemd_running() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }

service_actions() {
  if under_root; then
    say "skipped    systemctl (under --root)"
    return 0
  fi
  if ! systemd_running; then
    warn "systemd is not running here: enable the service yourself later"
    return 0
  fi
  [ "$UNIT_CHANGED" = no ] || run systemctl daemon-reload
  if ! systemctl is-enabled --quiet "$UNIT_NAME" 2>/dev/null; then
    CHANGES=$((CHANGES + 1))
    run systemctl enable "$UNIT_NAME"
  fi
  # try-restart restarts only a running service: an unconfigured one stays stopped.
  [ "$RESTART_NEEDED" = no ] || run systemctl try-restart "$UNIT_NAME"
}

next_steps() {
  cat <<EOF

Next step (as root on this Proxmox host): one command does all of what follows, and says
what it changed (re-run it any time to repair drift):

   felhom-agent setup [--enroll CODE --hub URL]

Or by hand, the same steps:

1. Create the Proxmox API token the agent uses. The role must be granted to the user AND the
   token on the same path, or every call is refused:

   pveum role add FelhomAgent -privs "VM.Allocate VM.Audit VM.Config.Disk VM.Config.CPU \\
     VM.Config.Memory VM.Config.Network VM.Config.Options VM.PowerMgmt VM.Snapshot \\
     VM.Snapshot.Rollback VM.Backup Datastore.Allocate Datastore.AllocateSpace \\
     Datastore.Audit Sys.Audit SDN.Use"
   pveum user add felhom-agent@pve
   pveum user token add felhom-agent@pve agent --privsep 1    # the secret is shown once
   pveum acl modify / -user  'felhom-agent@pve'       -role FelhomAgent
   pveum acl modify / -token 'felhom-agent@pve!agent' -role FelhomAgent

2. Store it for the service user only: paste felhom-agent@pve!agent=SECRET, then Ctrl-D:

   install -m 0600 -o $SERVICE_USER -g $SERVICE_GROUP /dev/stdin $TOKEN_FILE

3. Pin the API certificate. Show what the endpoint presents, compare it with
   'pvenode cert info' (pveproxy-ssl.pem if present, else pve-ssl.pem), then put it in
   $CONF_FILE as "proxmox": { "tls": { "fingerprint": "AA:BB:..." } }:

   felhom-agent fingerprint --endpoint https://127.0.0.1:8006

4. Check everything as the service user (read-only):

   sudo -u $SERVICE_USER felhom-agent --selftest

5. Start it and follow its log:

   systemctl enable --now $UNIT_NAME
   journalctl -u $UNIT_NAME -f
EOF
}

do_install() {
  obtain_binary
  verify_binary
  BIN_VERSION=$(binary_version)
  say "version    $BIN_VERSION"
  check_downgrade
  ensure_sudo
  ensure_user
  install_files
  [ "$WITH_TUNNEL" = no ] || install_tunnel_files
  service_actions
  [ "$WITH_TUNNEL" = no ] || tunnel_service_actions
  say ""
  if [ "$CHANGES" -eq 0 ]; then
    say "felhom-agent is up to date: nothing changed."
  elif is_dry; then
    say "dry run: $CHANGES change(s) listed above; nothing was changed."
  else
    say "felhom-agent installed: $CHANGES change(s)."
  fi
  if [ "$SETUP" = yes ]; then
    run_setup
  else
    next_steps
  fi
}

# ---- uninstall ----------------------------------------------------------------------------

do_uninstall() {
  if ! under_root && systemd_running && [ -e "$UNIT_FILE" ]; then
    run systemctl disable --now "$UNIT_NAME" || warn "could not stop $UNIT_NAME"
  fi
  remove_path "$UNIT_FILE"
  uninstall_tunnel
  if ! under_root && systemd_running && [ "$CHANGES" -gt 0 ]; then
    run systemctl daemon-reload
  fi
  # sudoers first: from here on the service user can no longer reach the wrappers.
  remove_path "$SUDOERS_FILE"
  for w in $WRAPPERS; do remove_path "$PRIV_DIR/$w"; done
  remove_path "$PRIV_DIR"
  remove_path "$LIB_DIR"
  remove_path "$BIN_PATH"
  remove_path "$COMPLETION_FILE"
  if [ "$PURGE" = yes ]; then
    remove_path "$CONF_DIR"
    remove_path "$TUNNEL_DIR"
    remove_path "$STATE_DIR"
    if under_root; then
      say "skipped    user $SERVICE_USER: not removed under --root"
    elif id -u "$SERVICE_USER" >/dev/null 2>&1; then
      CHANGES=$((CHANGES + 1))
      run userdel "$SERVICE_USER"
    fi
  else
    say "kept       $CONF_DIR and $STATE_DIR (configuration, token, state): remove them with --uninstall --purge"
  fi
  say ""
  if is_dry; then
    say "dry run: nothing was removed."
  else
    say "felhom-agent uninstalled."
  fi
}

main() {
  parse_args "$@"
  if [ "$MODE" = help ]; then
    usage
    return 0
  fi
  if ! under_root && ! is_dry && [ "$RUN_UID" != 0 ]; then
    die "run as root (or with --dry-run to see what would be done)"
  fi
  umask 022
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/felhom-install.XXXXXX")
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  if is_dry; then say "dry run: printing actions, changing nothing"; fi
  if under_root; then say "installing below $ROOT"; fi
  case $MODE in
    install) do_install ;;
    uninstall) do_uninstall ;;
  esac
}

main "$@"
