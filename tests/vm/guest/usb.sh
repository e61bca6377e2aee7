# shellcheck shell=sh
# shellcheck source-path=SCRIPTDIR
# USB scenario (ryll.mode=usb, tests/vm/run_usb.py): the guest has qemu-xhci and a usb-redir device whose usbredir
# channel ryll serves with its virtual disk. The USB storage modules are loaded, then the guest says USB WAITING and
# takes commands on the virtio port "ryll.ctl" (one a line), answering each with a USB line on the console:
#   wait-disk [VENDOR]  wait (at most 180 s) for a SCSI disk (whose vendor starts with VENDOR): USB DISK NAME
#                    blocks=N ro=0|1
#   sha SKIP COUNT   sha256 of COUNT 512-byte blocks from block SKIP: USB SHA HEX
#   mount            mount the disk's FAT file system at /mnt/usb (read-only if the disk is): USB MOUNTED
#   cat NAME         sha256 of /mnt/usb/NAME: USB CAT HEX
#   write NAME       write "written by the guest" to /mnt/usb/NAME and sync: USB WROTE status=N
#   umount           unmount: USB UMOUNTED status=N
#   raw-write        write one block of the raw disk (block 2047) and fsync: USB RAWWRITE status=N
#   dd-read MIB [VENDOR]  read MIB MiB of the raw disk (that vendor's), page cache dropped first: USB DDREAD
#                    bytes=N ms=N
#   dd-write MIB [VENDOR]  write MIB MiB (the same random bytes each time) to the raw disk at MIB MiB in, with
#                    fsync: USB DDWRITE status=N ms=N
#   wait-gone        wait (at most 60 s) until the disk is gone: USB GONE | USB ERROR
#   quit             power off

# shellcheck source=lib.sh
. /ryll/lib.sh

while read -r m; do
    [ -n "$m" ] || continue
    insmod "/lib/modules/$m.ko" || say "GUEST WARN insmod $m failed"
done </etc/ryll-usb-modules

disk=""
# find_disk [VENDOR]: the last SCSI disk (whose INQUIRY vendor starts with VENDOR) into $disk.
find_disk() {
    disk=""
    for b in /sys/block/sd*; do
        [ -e "$b" ] || continue
        case $(cat "$b/device/vendor" 2>/dev/null) in
            "${1:-}"*) disk=${b##*/} ;;
        esac
    done
}

mounted() {
    grep -q ' /mnt/usb ' /proc/mounts
}

# Milliseconds since boot (/proc/uptime has two decimals; the 1 prefix keeps "08" from reading as octal).
now_ms() {
    read -r up _ </proc/uptime
    frac=$(echo "${up#*.}" | cut -c1-2)
    echo $((${up%.*} * 1000 + (1$frac - 100) * 10))
}

ctl=""
for p in /sys/class/virtio-ports/*; do
    [ "$(cat "$p/name" 2>/dev/null)" = ryll.ctl ] && ctl=/dev/${p##*/}
done
if [ -z "$ctl" ]; then
    say "USB ERROR no virtio port named ryll.ctl"
    exit 0
fi
mkdir -p /mnt/usb
say "USB WAITING"
quit=0
while [ $quit = 0 ]; do
    while read -r cmd a1 a2; do
        case $cmd in
            wait-disk)
                i=0
                find_disk "$a1"
                while { [ -z "$disk" ] || [ ! -b "/dev/$disk" ]; } && [ $i -lt 1800 ]; do
                    sleep 0.1
                    i=$((i + 1))
                    find_disk "$a1"
                    [ -n "$disk" ] && [ ! -b "/dev/$disk" ] && mknod "/dev/$disk" b \
                        "$(cut -d: -f1 "/sys/block/$disk/dev")" "$(cut -d: -f2 "/sys/block/$disk/dev")" 2>/dev/null
                done
                if [ -n "$disk" ] && [ -b "/dev/$disk" ]; then
                    say "USB DISK $disk blocks=$(cat "/sys/block/$disk/size") ro=$(cat "/sys/block/$disk/ro")"
                else
                    say "USB ERROR no disk after 180 s"
                fi
                ;;
            sha)
                h=$(dd if="/dev/$disk" bs=512 skip="$a1" count="$a2" 2>>"$DBG" | sha256sum)
                say "USB SHA ${h%% *}"
                ;;
            mount)
                opt=rw
                [ "$(cat "/sys/block/$disk/ro")" = 1 ] && opt=ro
                if mount -t vfat -o "$opt" "/dev/$disk" /mnt/usb 2>>"$DBG"; then
                    say "USB MOUNTED $opt"
                else
                    say "USB ERROR mount failed"
                fi
                ;;
            cat)
                if mounted; then
                    h=$(sha256sum <"/mnt/usb/$a1" 2>>"$DBG")
                    say "USB CAT ${h%% *}"
                else
                    say "USB ERROR not mounted"
                fi
                ;;
            write)
                st=1
                if mounted; then
                    printf 'written by the guest\n' >"/mnt/usb/$a1" 2>>"$DBG"
                    st=$?
                fi
                sync
                say "USB WROTE status=$st"
                ;;
            umount)
                umount /mnt/usb 2>>"$DBG"
                say "USB UMOUNTED status=$?"
                ;;
            raw-write)
                dd if=/dev/zero of="/dev/$disk" bs=512 count=1 seek=2047 conv=fsync 2>>"$DBG"
                say "USB RAWWRITE status=$?"
                ;;
            dd-read)
                [ -n "$a2" ] && find_disk "$a2"
                sync
                echo 3 >/proc/sys/vm/drop_caches
                t0=$(now_ms)
                n=$(dd if="/dev/$disk" bs=1048576 count="$a1" 2>>"$DBG" | wc -c)
                t1=$(now_ms)
                say "USB DDREAD bytes=$n ms=$((t1 - t0))"
                ;;
            dd-write)
                [ -n "$a2" ] && find_disk "$a2"
                [ -f /tmp/wbuf ] || dd if=/dev/urandom of=/tmp/wbuf bs=1048576 count="$a1" 2>>"$DBG"
                sync
                t0=$(now_ms)
                dd if=/tmp/wbuf of="/dev/$disk" bs=1048576 count="$a1" seek="$a1" conv=fsync 2>>"$DBG"
                st=$?
                t1=$(now_ms)
                say "USB DDWRITE status=$st ms=$((t1 - t0))"
                ;;
            wait-gone)
                i=0
                find_disk
                while [ -n "$disk" ] && [ $i -lt 600 ]; do
                    sleep 0.1
                    i=$((i + 1))
                    find_disk
                done
                if [ -z "$disk" ]; then say "USB GONE"; else say "USB ERROR the disk is still there"; fi
                ;;
            quit)
                quit=1
                break
                ;;
            *) say "USB ERROR unknown command $cmd" ;;
        esac
    done <"$ctl"
    sleep 0.2
done
