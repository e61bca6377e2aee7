# shellcheck shell=sh
# shellcheck disable=SC2034 # variables used by the scripts that source this file
# Helpers shared by the guest scripts (sourced; busybox sh).
#
# Output conventions on the console (ttyS0), one line each, parsed by tests/vm/run_e2e.py:
#   RESULT <check> PASS|FAIL <detail>
#   UPLOAD <path-in-share> <sha256>
#   LITMUS <suite> <passed> <failed>
#   LITMUS_FAIL <suite> <test> <reason>
#   LITMUS_SKIP <suite> <count>
#   PHASE <name> START|DONE
#   GUEST <word> ...            (boot, ready, done, errors)
# Everything noisy goes to $DBG (ttyS1 when QEMU provides it).

WEBDAV_PORT=org.spice-space.webdav.0
WEBDAV_TCP_PORT=9843
DAV=http://127.0.0.1:$WEBDAV_TCP_PORT
if [ -c /dev/ttyS1 ] && (: >>/dev/ttyS1) 2>/dev/null; then
    DBG=/dev/ttyS1
else
    DBG=/dev/null
fi
FAILS=/tmp/ryll-fails

say() { echo "$*"; }
dbg() { echo "$*" >>"$DBG"; }

# result CHECK PASS|FAIL DETAIL...
result() {
    _check=$1
    _status=$2
    shift 2
    say "RESULT $_check $_status $*"
    dbg "RESULT $_check $_status $*"
    [ "$_status" = PASS ] || echo "$_check" >>"$FAILS"
}

# pass_if CHECK CONDITION-RESULT(0/1) DETAIL...
pass_if() {
    _check=$1
    _ok=$2
    shift 2
    if [ "$_ok" = 0 ]; then result "$_check" PASS "$@"; else result "$_check" FAIL "$@"; fi
}

cmdline_arg() {
    read -r _cl </proc/cmdline
    for _w in $_cl; do
        case $_w in
            "$1"=*)
                echo "${_w#*=}"
                return 0
                ;;
        esac
    done
    echo "$2"
}

uptime_s() { cut -d' ' -f1 /proc/uptime; }

avahi_running() { [ -S /run/avahi-daemon/socket ]; }

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# Percent-encode a path for a URL; '/' is kept.
urlencode() {
    printf '%s' "$1" | od -An -v -tx1 | awk '
        BEGIN { hex = "0123456789abcdef" }
        {
            for (i = 1; i <= NF; i++) {
                n = (index(hex, substr($i, 1, 1)) - 1) * 16 + index(hex, substr($i, 2, 1)) - 1
                if ((n >= 48 && n <= 57) || (n >= 65 && n <= 90) || (n >= 97 && n <= 122) ||
                    n == 45 || n == 46 || n == 95 || n == 126 || n == 47)
                    printf "%c", n
                else
                    printf "%%%s", toupper($i)
            }
        }'
}

# Decode %XX escapes (one string per line on stdin).
urldecode() {
    awk '
        BEGIN { hex = "0123456789abcdef" }
        {
            s = $0; out = ""
            while ((p = index(s, "%")) > 0) {
                h = tolower(substr(s, p + 1, 2))
                a = index(hex, substr(h, 1, 1)); b = index(hex, substr(h, 2, 1))
                if (length(h) == 2 && a > 0 && b > 0) {
                    out = out substr(s, 1, p - 1) sprintf("%c", (a - 1) * 16 + b - 1)
                    s = substr(s, p + 3)
                } else {
                    out = out substr(s, 1, p); s = substr(s, p + 1)
                }
            }
            print out s
        }'
}

# Names (last path segment, decoded) of the hrefs in a multistatus body, one per line.
href_names() {
    { tr -d '\r\n' <"$1" && echo; } | sed 's/<\([A-Za-z0-9]*:\)\{0,1\}href>/\n&/g' |
        sed -n 's/^<\([A-Za-z0-9]*:\)\{0,1\}href>\([^<]*\)<.*/\2/p' |
        sed 's#^[a-z]*://[^/]*##; s#/$##; s#.*/##' | urldecode
}

# dav METHOD PATH OUTFILE [curl args...] -> prints the HTTP status ("000" on failure).
dav() {
    _m=$1
    _p=$(urlencode "$2")
    _o=$3
    shift 3
    curl -s -g -o "$_o" -w '%{http_code}' --connect-timeout 5 --max-time 120 \
        -X "$_m" "$@" "$DAV$_p" 2>>"$DBG" || true
}

# davfs_umount CHECK MOUNTPOINT: umount returns at once; mount.davfs uploads what is dirty, then exits. Passes when
# both happen within a minute.
davfs_umount() {
    _uok=0
    timeout 60 umount "$2" 2>>"$DBG" || _uok=1
    _ui=0
    while pidof mount.davfs >/dev/null && [ $_ui -lt 120 ]; do
        sleep 0.5
        _ui=$((_ui + 1))
    done
    pidof mount.davfs >/dev/null && _uok=1
    pass_if "$1" "$_uok" "waited $((_ui / 2))s for mount.davfs"
}

# Wait until GET /_phase.txt (or FILE) returns WANT (ryll may be stopped meanwhile). LIMIT in seconds.
wait_phase() { # WANT LIMIT [FILE]
    _want=$1
    _limit=$2
    _file=${3:-/_phase.txt}
    _start=$(date +%s)
    _last=""
    while :; do
        _got=$(curl -s -f --connect-timeout 2 --max-time 5 "$DAV$_file" 2>/dev/null |
            tr -d '\r\n ')
        if [ "$_got" != "$_last" ]; then
            dbg "wait_phase $_want: server says '${_got}'"
            _last=$_got
        fi
        [ "$_got" = "$_want" ] && return 0
        [ $(($(date +%s) - _start)) -ge "$_limit" ] && return 1
        sleep 1
    done
}

# Wait until PROPFIND / answers 207. LIMIT in seconds.
wait_dav() {
    _limit=$1
    _start=$(date +%s)
    while :; do
        _code=$(curl -s -o /dev/null -w '%{http_code}' --connect-timeout 2 --max-time 5 \
            -X PROPFIND -H 'Depth: 0' "$DAV/" 2>/dev/null || true)
        [ "$_code" = 207 ] && return 0
        [ $(($(date +%s) - _start)) -ge "$_limit" ] && return 1
        sleep 1
    done
}
