#!/usr/bin/env bash
# Install the Debian packages that ryll's tests and demo need (the list: tools/packages.txt). Idempotent: it asks
# apt only for what is missing, and does nothing when everything is there. `make deps` runs it, and so does every
# target that needs the packages (demo, test, test-qemu-webdav, screenshot), and .ci/run.
#
#   tools/deps.sh             install what is missing (as root); otherwise print the command to run and fail
#   tools/deps.sh --check     exit 1 and name what is missing, install nothing
#   tools/deps.sh --simulate  ask apt (apt-get install -s) whether the whole list can be installed on this
#                             machine as it is, whatever is already installed and at which version
#   tools/deps.sh --list      print the package list
#
# The stock image's qemu-utils (10.x from bookworm-backports) Breaks bookworm's qemu-system-common 7.2. ryll uses
# neither qemu-img nor qemu-nbd, so when qemu-system-x86 has to be installed next to such a qemu-utils, this script
# asks apt to remove qemu-utils in the same command (`qemu-utils-`).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
list=$here/packages.txt
mode=install
case ${1:-} in
    "") ;;
    --check) mode=check ;;
    --simulate) mode=simulate ;;
    --list) mode=list ;;
    -h | --help)
        sed -n '2,14p' "$here/deps.sh" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "deps.sh: unknown argument: $1" >&2
        exit 2
        ;;
esac

log() { printf 'deps: %s\n' "$*" >&2; }

mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$list" | grep -v '^$')
if [[ $mode == list ]]; then
    printf '%s\n' "${wanted[@]}"
    exit 0
fi

command -v dpkg-query >/dev/null || {
    log "error: this is not a Debian-based system (no dpkg-query); install the packages in $list by hand"
    exit 1
}

installed() {
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
}

# The qemu-utils that must go for qemu-system-x86 7.2 to install: one from 8.0 on.
breaking_qemu_utils() {
    local v
    v=$(dpkg-query -W -f='${db:Status-Status} ${Version}' qemu-utils 2>/dev/null) || return 1
    [[ $v == installed\ * ]] || return 1
    v=${v#installed }
    dpkg --compare-versions "$v" ge 1:8.0 && echo "$v"
}

# The apt-get arguments for these packages, with the removal of a breaking qemu-utils when QEMU is among them.
apt_args() {
    local p v
    printf '%s\n' "$@"
    for p in "$@"; do
        if [[ $p == qemu-system-x86 ]] && v=$(breaking_qemu_utils); then
            log "removing qemu-utils $v (bookworm-backports): it Breaks qemu-system-x86 7.2, and ryll uses neither" \
                "qemu-img nor qemu-nbd"
            echo qemu-utils-
        fi
    done
}

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-y -q --no-install-recommends)

if [[ $mode == simulate ]]; then
    if ! apt-cache show qemu-system-x86 >/dev/null 2>&1 && ((EUID == 0)); then
        log "apt's package lists are missing; running apt-get update"
        apt-get update -q >&2
    fi
    mapfile -t args < <(apt_args "${wanted[@]}")
    if ! out=$(apt-get install -s "${apt_opts[@]}" "${args[@]}" 2>&1); then
        printf '%s\n' "$out" >&2
        log "error: apt cannot install the list on this machine"
        exit 1
    fi
    log "apt can install all ${#wanted[@]} packages here ($(grep -c '^Inst ' <<<"$out") to install," \
        "$(grep -c '^Remv ' <<<"$out") to remove)"
    exit 0
fi

missing=()
for p in "${wanted[@]}"; do
    installed "$p" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
    log "all ${#wanted[@]} packages are installed"
    exit 0
fi
if [[ $mode == check ]]; then
    log "missing: ${missing[*]}"
    exit 1
fi

mapfile -t args < <(apt_args "${missing[@]}")
if ((EUID != 0)); then
    log "missing: ${missing[*]}"
    echo "Run as root: apt-get update && apt-get install ${apt_opts[*]} ${args[*]}" >&2
    exit 1
fi
log "installing ${#missing[@]} missing packages: ${missing[*]}"
apt-get update -q >&2
apt-get install "${apt_opts[@]}" "${args[@]}" >&2
for p in "${missing[@]}"; do
    installed "$p" || {
        log "error: $p is still not installed"
        exit 1
    }
done
log "all ${#wanted[@]} packages are installed"
