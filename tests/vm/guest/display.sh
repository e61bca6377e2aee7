# shellcheck shell=sh
# shellcheck source-path=SCRIPTDIR
# Display scenario (ryll.mode=display, tests/vm/run_display.py): a still, deterministic screen on the DRM driver's
# fbdev console. The display drivers are loaded, the cursor is hidden and does not blink; on command text is
# written to tty1 and the two pictures the host appended to the initramfs (/ryll/display/band.raw: a photo-like
# and a text-like 512×256 image side by side, XRGB8888 rows of 4096 bytes) below the text in one write. The guest
# says DISPLAY WAITING and takes commands on the virtio port "ryll.ctl" (one a line):
#   draw        clear the console, write the text and the band, then say DISPLAY DRAWN
#   animate N   write the band N times, alternately mirrored and not (frames.raw), then say DISPLAY ANIMATED N
#   animate-for S   the same for S seconds, then say DISPLAY ANIMATED S s
#   repeat-for S    write the band unchanged (the still screen's) over and over for S seconds (a stream whose
#               content stays the still screen's), then say DISPLAY ANIMATED S s
#   scroll S    print numbered lines of text on tty1 for S seconds (the console scrolls), then say DISPLAY SCROLLED
#   keys N      say DISPLAY KEYS READY, then on each key press the keyboard reports, fill rows 100-199 with the next
#               colour of block.raw (red, green, ...); after N presses say DISPLAY KEYS N
#   get PATH [video]  GET PATH from the share with curl, alone or while the band is redrawn about ten times a
#               second (a video), then say DISPLAY GET <seconds> <http status> <bytes>
#   draw-fb1    write the band to the second framebuffer (a hot-plugged qxl), then say DISPLAY FB1 DRAWN
#   quit        power off

# shellcheck source=lib.sh
. /ryll/lib.sh

while read -r m; do
    [ -n "$m" ] || continue
    insmod "/lib/modules/$m.ko" || say "GUEST WARN insmod $m failed"
done </etc/ryll-display-modules

i=0
while [ ! -e /dev/fb0 ] && [ $i -lt 200 ]; do
    sleep 0.1
    i=$((i + 1))
done
if [ ! -e /dev/fb0 ]; then
    say "DISPLAY ERROR no /dev/fb0 after 20 s"
    exit 0
fi
fb=/sys/class/graphics/fb0
size=$(cat $fb/virtual_size)
stride=$(cat $fb/stride)
bpp=$(cat $fb/bits_per_pixel)
driver=$(head -n1 /proc/fb)
say "DISPLAY FB size=$size stride=$stride bpp=$bpp driver=$driver"
# ryll.size=WxH: the mode the host asked for with video= (the pictures are 1024 wide; on a wider screen their rows
# wrap, which changes nothing for comparisons against the screendump).
want=$(cmdline_arg ryll.size 1024x768)
want_w=${want%x*}
if [ "$size" != "${want_w},${want#*x}" ] || [ "$stride" != $((want_w * 4)) ] || [ "$bpp" != 32 ]; then
    say "DISPLAY ERROR want a ${want} framebuffer of 32 bits a pixel and rows of $((want_w * 4)) bytes"
    exit 0
fi

# No blinking, no cursor, no blanking.
echo 0 >/sys/class/graphics/fbcon/cursor_blink 2>/dev/null
tty=/dev/tty1
printf '\033[?25l\033[9;0]\033[H\033[2J' >$tty

# The screen: text on the console, then the band of pictures below it (rows 512-767) in one write, so the driver
# sees one damage rect a frame (and an animation becomes one stream). Not row by row: the 6.1 kernel's fbdev
# emulation computes an empty damage rect for a write of exactly one whole row (its end column comes out as 0).
draw() {
    {
        printf '\033[H\033[2J\033[1;37mryll display test\033[0m  -  a still screen for pixel comparisons\n\n'
        printf 'kernel %s, framebuffer %s\n\n' "$(cat /etc/ryll-kernel)" "$driver"
        for c in 31 32 33 34 35 36 37; do
            printf '\033[%sm colour %s: the quick brown fox jumps over the lazy dog 0123456789\033[0m\n' "$c" "$c"
        done
        printf '\n\033[7m reverse video \033[0m \033[1m bold \033[0m \033[4m underline \033[0m\n'
        i=0
        while [ $i -lt 6 ]; do
            printf 'line %s: ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz !"#$%%&()*+,-./:;<=>?@[]^_{|}~\n' $i
            i=$((i + 1))
        done
    } >$tty
    dd if=/ryll/display/band.raw of=/dev/fb0 bs=1048576 seek=2 conv=notrunc 2>>"$DBG" ||
        say "DISPLAY ERROR dd: $(ls -l /ryll/display 2>&1)"
}

# The benchmark's loads (tests/vm/run_display_bench.py).
animate_for() { # SECONDS [same]
    _end=$(($(cut -d. -f1 /proc/uptime) + $1))
    _i=0
    # frames.raw holds the mirrored band, then the still one.
    _step=2
    [ "${2:-}" = same ] && _step=1
    while [ "$(cut -d. -f1 /proc/uptime)" -lt $_end ]; do
        dd if=/ryll/display/frames.raw of=/dev/fb0 bs=1048576 count=1 skip=$((1 - _i % _step)) seek=2 \
            conv=notrunc 2>>"$DBG"
        _i=$((_i + 1))
    done
    say "DISPLAY ANIMATED $1 s ($_i frames)"
}

scroll() { # SECONDS
    _end=$(($(cut -d. -f1 /proc/uptime) + $1))
    _i=0
    printf '\033[H\033[2J' >$tty
    while [ "$(cut -d. -f1 /proc/uptime)" -lt $_end ]; do
        printf 'line %06d: the quick brown fox jumps over the lazy dog, THE QUICK BROWN FOX 0123456789\n' $_i >$tty
        _i=$((_i + 1))
    done
    say "DISPLAY SCROLLED $1 s ($_i lines)"
}

# One read of the keyboard's event device returns the whole events waiting (24 bytes each: time, type, code,
# value); each key press (type 1, value 1) fills the block with the next colour.
keys() { # N
    _kbd=""
    for _d in /sys/class/input/event*; do
        case $(cat "$_d/device/name" 2>/dev/null) in *keyboard*) _kbd=/dev/input/${_d##*/} ;; esac
    done
    if [ -z "$_kbd" ]; then
        say "DISPLAY ERROR no keyboard event device"
        return
    fi
    exec 4<"$_kbd"
    say "DISPLAY KEYS READY"
    _i=0
    while [ $_i -lt "$1" ]; do
        _n=$(dd bs=2400 count=1 <&4 2>/dev/null | od -An -v -tx1 -w24 |
            awk '$17 == "01" && $18 == "00" && $21 == "01" { n++ } END { print n + 0 }')
        [ "$_n" -gt 0 ] || continue
        _i=$((_i + _n))
        dd if=/ryll/display/block.raw of=/dev/fb0 bs=409600 count=1 skip=$((_i % 2)) seek=1 conv=notrunc \
            2>>"$DBG"
    done
    exec 4<&-
    say "DISPLAY KEYS $1"
}

get() { # PATH [video]
    if ! wait_dav 60; then
        say "DISPLAY GET 0 000 0"
        return
    fi
    _stop=/tmp/video.stop
    rm -f $_stop
    _v=""
    if [ "${2:-}" = video ]; then
        (
            _i=0
            while [ ! -e $_stop ]; do
                dd if=/ryll/display/frames.raw of=/dev/fb0 bs=1048576 count=1 skip=$((_i % 2)) seek=2 \
                    conv=notrunc 2>>"$DBG"
                _i=$((_i + 1))
                sleep 0.1
            done
        ) &
        _v=$!
    fi
    _got=$(curl -s -o /dev/null -w '%{time_total} %{http_code} %{size_download}' --connect-timeout 10 \
        --max-time 900 "$DAV/$1" 2>>"$DBG" || echo "0 000 0")
    touch $_stop
    [ -z "$_v" ] || wait "$_v"
    say "DISPLAY GET $_got"
}

# Commands from the host on the virtio port named ryll.ctl.
ctl=""
for p in /sys/class/virtio-ports/*; do
    [ "$(cat "$p/name" 2>/dev/null)" = ryll.ctl ] && ctl=/dev/${p##*/}
done
if [ -z "$ctl" ]; then
    say "DISPLAY ERROR no virtio port named ryll.ctl"
    exit 0
fi
say "DISPLAY WAITING"
# A read before the host has connected its end of the port is an end of file: open the port again.
quit=0
while [ $quit = 0 ]; do
    while read -r cmd arg; do
        case $cmd in
            draw)
                draw
                sleep 1
                say "DISPLAY DRAWN"
                ;;
            animate)
                i=0
                while [ $i -lt "$arg" ]; do
                    dd if=/ryll/display/frames.raw of=/dev/fb0 bs=1048576 count=1 skip=$((i % 2)) seek=2 \
                        conv=notrunc 2>>"$DBG"
                    i=$((i + 1))
                done
                say "DISPLAY ANIMATED $arg"
                ;;
            draw-fb1)
                if [ -e /dev/fb1 ] && [ "$(cat /sys/class/graphics/fb1/stride)" = 4096 ]; then
                    dd if=/ryll/display/band.raw of=/dev/fb1 bs=1048576 seek=2 conv=notrunc 2>>"$DBG"
                    sleep 1
                    say "DISPLAY FB1 DRAWN $(cat /sys/class/graphics/fb1/virtual_size)"
                else
                    say "DISPLAY ERROR no 1024-wide /dev/fb1: $(tr '\n' ' ' </proc/fb)"
                fi
                ;;
            animate-for) animate_for "$arg" ;;
            repeat-for) animate_for "$arg" same ;;
            scroll) scroll "$arg" ;;
            keys) keys "$arg" ;;
            get)
                # shellcheck disable=SC2086 # PATH and its option
                get $arg
                ;;
            quit)
                quit=1
                break
                ;;
            *) say "DISPLAY ERROR unknown command $cmd" ;;
        esac
    done <"$ctl"
    sleep 0.2
done
