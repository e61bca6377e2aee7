#!/usr/bin/env bash
# Build the throw-away test guest for ryll's end-to-end WebDAV tests.
#
# Everything comes from Debian packages fetched at test time with `apt-get download` and
# unpacked with `dpkg -x` (nothing is installed on the host, nothing binary is committed):
#   - the Debian linux-image-6.1 kernel, booted as an uncompressed vmlinux (PVH),
#   - the few kernel modules the guest needs (virtio-pci, virtio_console, fuse),
#   - busybox-static, spice-webdavd, dbus-daemon, avahi-daemon, curl, davfs2 and litmus,
#     each with the shared libraries ldd finds for it, plus the dynamic loader,
#   - the guest scripts from tests/vm/guest/.
# Output in ${RYLL_VM_DIR:-target/testvm}: vmlinux (or bzImage) and initramfs.cpio.
# The build is skipped when both exist and the stamp matches the hash of this script and
# of tests/vm/guest/. Downloaded packages are kept in $RYLL_VM_DIR/debs.
#
# Usage: tests/vm/build-image.sh [--force]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"

force=0
for arg in "$@"; do
    case $arg in
        --force) force=1 ;;
        -h | --help)
            sed -n '2,15p' "$here/build-image.sh" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "build-image.sh: unknown argument: $arg" >&2
            exit 2
            ;;
    esac
done

out=${RYLL_VM_DIR:-target/testvm}
mkdir -p "$out"
out=$(cd "$out" && pwd)
debs=$out/debs
stamp=$out/stamp
guest=$here/guest

log() { printf 'build-image: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# The stamp: sha256 over this script and every guest file (path and content).
inputs_hash() {
    {
        sha256sum "$here/build-image.sh" | cut -d' ' -f1
        (cd "$guest" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
        (cd "$guest" && find . -type f -perm -u+x -print | LC_ALL=C sort)
    } | sha256sum | cut -d' ' -f1
}

want=$(inputs_hash)
kernel_out=""
for k in vmlinux bzImage; do
    [[ -f $out/$k ]] && kernel_out=$out/$k && break
done
if ((force == 0)) && [[ -n $kernel_out && -f $out/initramfs.cpio && -f $stamp ]] &&
    [[ $(cat "$stamp") == "$want" ]]; then
    log "up to date: $kernel_out $out/initramfs.cpio"
    exit 0
fi

for tool in apt-get apt-cache dpkg dpkg-deb cpio objcopy xz sha256sum; do
    command -v "$tool" >/dev/null || die "missing host tool: $tool"
done

# Top-level packages. Their dependencies are followed only through library packages.
top_pkgs=(busybox-static spice-webdavd dbus-daemon avahi-daemon curl davfs2 litmus)

ensure_apt_lists() {
    if ! apt-cache show spice-webdavd >/dev/null 2>&1; then
        log "apt package lists missing; running apt-get update"
        apt-get update >&2 || die "apt-get update failed"
    fi
}

# Print the Debian kernel image package that linux-image-amd64 points at.
kernel_pkg() {
    apt-cache depends linux-image-amd64 |
        awk '$1 ~ /Depends:$/ && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}

# Print the direct Depends/Pre-Depends of the given packages: for each alternative group
# only the first real (non-virtual) package.
direct_deps() {
    apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
        --no-replaces --no-enhances "$@" 2>/dev/null |
        awk '
            /^[^ ]/ { alt = 0; next }
            {
                kind = $1; name = $2
                if (kind !~ /^\|?(Pre)?Depends:$/) { alt = 0; next }
                isalt = (kind ~ /^\|/)
                if (!alt && name !~ /^</) print name
                alt = isalt
            }'
}

# Library closure: follow Depends from the top packages, keeping only lib* packages.
lib_closure() {
    local -A seen=()
    local queue=("${top_pkgs[@]}") next p
    while ((${#queue[@]})); do
        next=()
        while read -r p; do
            [[ $p == lib* || $p == zlib1g ]] || continue
            [[ $p == *-perl || $p == libperl* ]] && continue
            [[ -n ${seen[$p]:-} ]] && continue
            seen[$p]=1
            next+=("$p")
        done < <(direct_deps "${queue[@]}")
        queue=("${next[@]}")
    done
    printf '%s\n' "${!seen[@]}" | LC_ALL=C sort
}

# Download every named package into $debs unless a .deb of it is there already.
fetch() {
    local missing=() p
    for p in "$@"; do
        compgen -G "$debs/${p}_*.deb" >/dev/null || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    log "downloading ${#missing[@]} package(s) into $debs"
    if ! (cd "$debs" && apt-get download -o APT::Sandbox::User=root "${missing[@]}" >&2); then
        log "download failed; refreshing the package lists and retrying once"
        apt-get update >&2 || die "apt-get update failed"
        (cd "$debs" && apt-get download -o APT::Sandbox::User=root "${missing[@]}" >&2) ||
            die "apt-get download failed"
    fi
}

deb_of() {
    local f
    f=$(compgen -G "$debs/${1}_*.deb" | LC_ALL=C sort | tail -n1) || true
    [[ -n $f ]] || die "no .deb for $1 in $debs"
    printf '%s\n' "$f"
}

ensure_apt_lists
mkdir -p "$debs"
kpkg=$(kernel_pkg)
[[ -n $kpkg ]] || die "cannot resolve linux-image-amd64 to a kernel package"
mapfile -t libs < <(lib_closure)
log "kernel package: $kpkg; ${#libs[@]} library package(s)"
fetch "$kpkg" "${top_pkgs[@]}" "${libs[@]}"

work=$out/work
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
stage=$work/stage   # every package unpacked together (the "Debian root")
kstage=$work/kernel # the kernel package
img=$work/initramfs # what goes into the cpio
mkdir -p "$stage" "$kstage" "$img"

log "unpacking packages"
dpkg -x "$(deb_of "$kpkg")" "$kstage"
for p in "${top_pkgs[@]}" "${libs[@]}"; do
    dpkg -x "$(deb_of "$p")" "$stage"
done

# ---------------------------------------------------------------------------------------
# Kernel: extract an uncompressed ELF vmlinux from vmlinuz (like scripts/extract-vmlinux).
vmlinuz=$(compgen -G "$kstage/boot/vmlinuz-*" | head -n1) || true
[[ -n $vmlinuz ]] || die "no vmlinuz in $kpkg"
kver=${vmlinuz##*/vmlinuz-}

is_elf() { [[ $(head -c4 "$1" | od -An -tx1 | tr -d ' \n') == 7f454c46 ]]; }

extract_vmlinux() {
    local spec pat cmd off
    for spec in '\xfd7zXZ\x00:xz -dc' '\x28\xb5\x2f\xfd:zstd -dcq' '\x1f\x8b\x08\x00:gzip -dc'; do
        pat=${spec%%:*}
        cmd=${spec#*:}
        command -v "${cmd%% *}" >/dev/null || continue
        while read -r off; do
            # shellcheck disable=SC2086 # $cmd is a command with options
            tail -c "+$((off + 1))" "$vmlinuz" | $cmd >"$work/vmlinux" 2>/dev/null || true
            if [[ -s $work/vmlinux ]] && is_elf "$work/vmlinux"; then
                return 0
            fi
        done < <(LC_ALL=C grep -obUaP "$pat" "$vmlinuz" | cut -d: -f1 | head -n 20 || true)
    done
    return 1
}

rm -f "$out/vmlinux" "$out/bzImage"
if extract_vmlinux; then
    mv "$work/vmlinux" "$out/vmlinux.new"
    mv "$out/vmlinux.new" "$out/vmlinux"
    kernel_out=$out/vmlinux
else
    log "warning: could not extract vmlinux; using the compressed bzImage"
    cp "$vmlinuz" "$out/bzImage"
    kernel_out=$out/bzImage
fi

# ---------------------------------------------------------------------------------------
# Kernel modules, in dependency order.
moddir=$kstage/lib/modules/$kver
declare -A modpath=()
while IFS= read -r -d '' f; do
    n=${f##*/}
    n=${n%%.ko*}
    modpath[${n//-/_}]=$f
done < <(find "$moddir" -name '*.ko*' -print0)

mod_deps() {
    local f=$1 tmp=$work/modinfo
    case $f in
        *.ko.xz) xz -dc "$f" >"$work/mod.ko" && f=$work/mod.ko ;;
        *.ko.zst) zstd -dcq "$f" >"$work/mod.ko" && f=$work/mod.ko ;;
    esac
    objcopy -O binary --only-section=.modinfo "$f" "$tmp"
    tr '\0' '\n' <"$tmp" | sed -n 's/^depends=//p' | tr ',' '\n' | sed '/^$/d;s/-/_/g'
}

declare -A mod_done=()
mod_order=()
add_module() {
    local m=${1//-/_} d
    [[ -n ${mod_done[$m]:-} ]] && return 0
    mod_done[$m]=1
    if [[ -z ${modpath[$m]:-} ]]; then
        if grep -q "/${m}.ko\$" "$moddir/modules.builtin" 2>/dev/null ||
            grep -q "/${m//_/-}.ko\$" "$moddir/modules.builtin" 2>/dev/null; then
            return 0
        fi
        die "kernel module $m not found in $kpkg"
    fi
    while read -r d; do
        add_module "$d"
    done < <(mod_deps "${modpath[$m]}")
    mod_order+=("$m")
}
for m in virtio_pci virtio_console fuse; do
    add_module "$m"
done
# Input devices for ryll.mode=input: event nodes, the PS/2 mouse, and a hot-plugged usb-tablet on qemu-xhci.
for m in evdev psmouse xhci_pci usbhid hid_generic; do
    add_module "$m"
done
mkdir -p "$img/lib/modules" "$img/etc"
: >"$img/etc/ryll-modules"
copy_module() {
    local f=${modpath[$1]}
    case $f in
        *.ko.xz) xz -dc "$f" >"$img/lib/modules/$1.ko" ;;
        *.ko.zst) zstd -dcq "$f" >"$img/lib/modules/$1.ko" ;;
        *) cp "$f" "$img/lib/modules/$1.ko" ;;
    esac
}
for m in "${mod_order[@]}"; do
    copy_module "$m"
    echo "$m" >>"$img/etc/ryll-modules"
done
log "kernel $kver; modules: ${mod_order[*]}"

# extra_modules LIST MODULE...: the modules a scenario loads itself, with what they need beyond what is already
# listed, in dependency order, into /etc/LIST.
extra_modules() {
    local list=$1 base=${#mod_order[@]} m
    shift
    for m in "$@"; do
        add_module "$m"
    done
    : >"$img/etc/$list"
    for m in "${mod_order[@]:base}"; do
        copy_module "$m"
        echo "$m" >>"$img/etc/$list"
    done
    log "$list: ${mod_order[*]:base}"
}
# The display drivers (DRM KMS with fbdev emulation), loaded only by the display scenario (guest/display.sh):
# bochs for -vga std, qxl for -vga qxl, virtio-gpu for -device virtio-vga.
extra_modules ryll-display-modules bochs qxl virtio_gpu
# USB storage for the usb scenario (guest/usb.sh): the SCSI disk behind usb-redir and its FAT file system.
extra_modules ryll-usb-modules usb_storage sd_mod vfat nls_cp437 nls_ascii nls_iso8859_1 nls_utf8

# ---------------------------------------------------------------------------------------
# Userland.
for d in bin sbin usr/bin usr/sbin usr/libexec lib lib64 usr/lib usr/share dev proc sys \
    run tmp var/run var/cache/davfs2 mnt/dav root etc/davfs2; do
    mkdir -p "$img/$d"
done
chmod 1777 "$img/tmp"

cp "$stage/bin/busybox" "$img/bin/busybox"
# Applet links, except where a real binary is installed below.
while read -r applet; do
    [[ -z $applet || -e $img/$applet || -L $img/$applet ]] && continue
    mkdir -p "$img/$(dirname "$applet")"
    ln -s /bin/busybox "$img/$applet"
done < <("$img/bin/busybox" --list-full | sed 's#^/##')

binaries=(
    usr/sbin/spice-webdavd
    usr/bin/dbus-daemon
    usr/sbin/avahi-daemon
    usr/bin/curl
    usr/sbin/mount.davfs
    usr/sbin/umount.davfs
)
for s in basic copymove props locks http; do
    binaries+=("usr/libexec/litmus/$s")
done
for b in "${binaries[@]}"; do
    [[ -f $stage/$b ]] || die "missing binary in packages: /$b"
    mkdir -p "$img/$(dirname "$b")"
    rm -f "$img/$b"
    cp "$stage/$b" "$img/$b"
done
ln -sf /usr/sbin/mount.davfs "$img/sbin/mount.davfs"
ln -sf /usr/sbin/umount.davfs "$img/sbin/umount.davfs"

# Data files the programs need.
mkdir -p "$img/usr/share/dbus-1/system.d" "$img/etc/avahi" "$img/usr/share/litmus"
cp "$stage/usr/share/dbus-1/system.d/avahi-dbus.conf" "$img/usr/share/dbus-1/system.d/"
cp "$stage/etc/avahi/avahi-daemon.conf" "$img/etc/avahi/"
cp -r "$stage/usr/share/litmus/htdocs" "$img/usr/share/litmus/"

# Shared libraries via ldd, resolved inside the unpacked packages first.
libpath=$stage/lib/x86_64-linux-gnu:$stage/usr/lib/x86_64-linux-gnu
copy_lib() {
    local src=$1 dst
    case $src in
        "$stage"/*) dst=${src#"$stage"} ;;
        *) dst=$src ;;
    esac
    [[ -e $img$dst ]] && return 0
    if [[ $src != "$stage"/* ]]; then
        if [[ -e $stage$src ]]; then
            src=$stage$src
        else
            log "warning: $src taken from the host"
        fi
    fi
    mkdir -p "$img$(dirname "$dst")"
    cp -L "$src" "$img$dst"
}
for b in "${binaries[@]}"; do
    out_ldd=$(LD_LIBRARY_PATH=$libpath ldd "$stage/$b" 2>&1) || die "ldd failed on /$b: $out_ldd"
    if grep -q 'not found' <<<"$out_ldd"; then
        die "unresolved libraries for /$b:"$'\n'"$out_ldd"
    fi
    while read -r lib; do
        copy_lib "$lib"
    done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$out_ldd")
done
# The dynamic loader at the path the binaries ask for.
interp=$(readelf -l "$stage/usr/bin/curl" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
[[ -n $interp ]] || die "cannot read the ELF interpreter of curl"
if [[ ! -e $img$interp ]]; then
    mkdir -p "$img$(dirname "$interp")"
    cp -L "$stage/lib/x86_64-linux-gnu/$(basename "$interp")" "$img$interp" 2>/dev/null ||
        cp -L "$interp" "$img$interp"
fi

# Guest scripts and configuration.
cp "$guest/init" "$img/init"
chmod 755 "$img/init"
mkdir -p "$img/ryll"
cp "$guest"/*.sh "$img/ryll/"
chmod 755 "$img"/ryll/*.sh
if [[ -d $guest/rootfs ]]; then
    cp -r "$guest/rootfs/." "$img/"
fi
chmod 600 "$img/etc/davfs2/secrets" 2>/dev/null || true
printf '%s\n' "$kver" >"$img/etc/ryll-kernel"

log "writing initramfs.cpio"
(cd "$img" && find . -print0 | LC_ALL=C sort -z |
    cpio --null -o -H newc --owner=0:0 --quiet) >"$out/initramfs.cpio.new"
mv "$out/initramfs.cpio.new" "$out/initramfs.cpio"
printf '%s\n' "$want" >"$stamp"
log "done: $kernel_out ($(du -h "$kernel_out" | cut -f1)), $out/initramfs.cpio" \
    "($(du -h "$out/initramfs.cpio" | cut -f1))"
