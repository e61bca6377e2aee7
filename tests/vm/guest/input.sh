#!/bin/sh
# shellcheck shell=sh
# shellcheck source-path=SCRIPTDIR
# ryll.mode=input: reports what the guest's keyboard and pointer devices receive, for tests/qemu_input.rs.
#
#   ttyS0  EVDEV <node> <name> for each input device (also hot-plugged ones), GUEST INPUT READY,
#          TTY <hex byte> for each byte typed on tty1 (raw mode) until the bytes 7e 7e 0d ("~~" Enter), then
#          GUEST TTY DONE
#   ttyS2  the keyboard's events (struct input_event: time, type, code, value) as od -tx1 -w24 lines
#   ttyS3  the same for the pointer devices (the PS/2 mouse, a hot-plugged usb-tablet)
# shellcheck source=lib.sh
. /ryll/lib.sh

# Neither Ctrl+Alt+Del nor SysRq may act on what the test presses.
echo 0 >/proc/sys/kernel/ctrl-alt-del
echo 0 >/proc/sys/kernel/sysrq

# Pointer devices, watched as they appear (a usb-tablet is hot-plugged during the test).
(
    seen=" "
    while :; do
        for d in /sys/class/input/event*; do
            [ -e "$d" ] || continue
            n=${d##*/}
            case $seen in *" $n "*) continue ;; esac
            name=$(cat "$d/device/name" 2>/dev/null)
            case $name in
                *Mouse* | *mouse* | *Tablet* | *tablet*) out=/dev/ttyS3 ;;
                *keyboard*) out=/dev/ttyS2 ;;
                *) continue ;;
            esac
            seen="$seen$n "
            # A tty is line-buffered: each event reaches the serial port as its own line.
            od -An -v -tx1 -w24 <"/dev/input/$n" >"$out" &
            say "EVDEV $n $name"
        done
        sleep 0.5
    done
) &

# Held open for the whole loop: the last close of a tty throws its unread input away.
exec 3</dev/tty1
stty -F /dev/tty1 raw -echo
sleep 1
say "GUEST INPUT READY"
a=""
c=""
while :; do
    b=$(dd bs=1 count=1 <&3 2>/dev/null | od -An -tx1 | tr -d ' \n')
    [ -n "$b" ] || continue
    say "TTY $b"
    [ "$a $c $b" = "7e 7e 0d" ] && break
    a=$c
    c=$b
done
stty -F /dev/tty1 sane
exec 3<&-
say "GUEST TTY DONE"
sleep 100000
