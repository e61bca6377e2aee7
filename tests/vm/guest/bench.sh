# shellcheck shell=sh
# shellcheck source-path=SCRIPTDIR
# WAN benchmark (tests/vm/run_wan_bench.py): the guest's side of each round. The host shares a prepared tree
# (text.txt, random.bin, many/, small/, up/), writes the round's name ("r1", "r2", ...) into _phase.txt and
# waits for "ROUND <name> DONE". Every figure is curl's own time_total; lines:
#   BENCH <round> <workload> <seconds> <http-status> [sha256|count]
#   RANDSHA <sha256 of the random file the guest uploads>
#   ROUND <name> START|DONE|ABORT

# shellcheck source=lib.sh
. /ryll/lib.sh

ROUNDS=$(cmdline_arg ryll.rounds 2)
RAND_KIB=$(cmdline_arg ryll.randkib 8192)
SMALL=$(cmdline_arg ryll.small 200)
WAIT=$(cmdline_arg ryll.phasewait 300)
B=/tmp/bench
mkdir -p "$B"
head -c $((RAND_KIB * 1024)) /dev/urandom >"$B/rand.bin"
say "RANDSHA $(sha_of "$B/rand.bin")"

# timed ROUND WORKLOAD METHOD PATH OUT [curl args...] : one request, its time, status and the body's sha256.
timed() {
    _r=$1
    _w=$2
    _m=$3
    _p=$4
    _o=$5
    shift 5
    _line=$(curl -s -g -o "$_o" -w '%{time_total} %{http_code}' --connect-timeout 10 --max-time 900 \
        -X "$_m" "$@" "$DAV$_p" 2>>"$DBG" || echo "0 000")
    say "BENCH $_r $_w $_line $(sha_of "$_o")"
}

small_gets() { # ROUND : SMALL GETs of small/sNNN.txt on one keep-alive connection, summed.
    _cfg=$B/small.cfg
    : >"$_cfg"
    _i=0
    while [ $_i -lt "$SMALL" ]; do
        printf 'url = "%s/small/s%03d.txt"\noutput = "/dev/null"\n' "$DAV" $_i >>"$_cfg"
        _i=$((_i + 1))
    done
    curl -s -K "$_cfg" -w '%{time_total} %{http_code}\n' --connect-timeout 10 --max-time 900 \
        >"$B/small.out" 2>>"$DBG"
    awk -v r="$1" '{ t += $1; if ($2 == 200) ok++ } END { printf "BENCH %s small %.6f 200 %d\n", r, t, ok }' \
        "$B/small.out"
}

n=1
while [ $n -le "$ROUNDS" ]; do
    r=r$n
    if ! wait_phase "$r" "$WAIT"; then
        say "ROUND $r ABORT"
        break
    fi
    say "ROUND $r START"
    timed "$r" get_text GET /text.txt "$B/text.txt"
    timed "$r" put_text PUT "/up/text-$r.txt" "$B/put.out" -T "$B/text.txt" -H 'Expect:'
    timed "$r" get_random GET /random.bin "$B/random.bin"
    timed "$r" put_random PUT "/up/random-$r.bin" "$B/put.out" -T "$B/rand.bin" -H 'Expect:'
    timed "$r" propfind PROPFIND /many/ "$B/pf.xml" -H 'Depth: 1'
    small_gets "$r"
    rm -f "$B/text.txt" "$B/random.bin" "$B/pf.xml"
    say "ROUND $r DONE"
    n=$((n + 1))
done
