# shellcheck shell=sh
# shellcheck source-path=SCRIPTDIR
# Phase "windows" of the e2e scenario: curl plays the Windows mini-redirector (its User-Agent, translate: f, its
# PROPFIND and LOCK shapes) against a share holding names Windows cannot represent and two sparse 60,000,000-byte
# files (run_e2e.py, write_windows_share). Its GET of big.iso stops at exactly 50,000,000 body bytes, as the client
# does at its default FileSizeLimitInBytes; one of big2.iso gives up at once on seeing the length. The host checks
# that ryll logs the size-limit hint once and names the bad files of the Windows listings only. Sourced by e2e.sh
# after lib.sh.

WIN_AGENT='Microsoft-WebDAV-MiniRedir/10.0.19045'
WIN_LIMIT=50000000

# windav METHOD PATH OUTFILE [curl args...]: dav with the mini-redirector's User-Agent and headers.
windav() {
    _xm=$1
    _xp=$2
    _xo=$3
    shift 3
    dav "$_xm" "$_xp" "$_xo" -A "$WIN_AGENT" -H 'translate: f' -H 'Connection: Keep-Alive' "$@"
}

phase_windows() {
    cat >"$W/wallprop.xml" <<'XML'
<?xml version="1.0" encoding="utf-8" ?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>
XML
    cat >"$W/wprop.xml" <<'XML'
<?xml version="1.0" encoding="utf-8" ?><D:propfind xmlns:D="DAV:"><D:prop xmlns:Z="urn:schemas-microsoft-com:">
<D:getcontentlength/><D:getlastmodified/><D:creationdate/><D:resourcetype/><Z:Win32FileAttributes/>
<Z:Win32CreationTime/><Z:Win32LastAccessTime/><Z:Win32LastModifiedTime/></D:prop></D:propfind>
XML
    cat >"$W/wlock.xml" <<'XML'
<?xml version="1.0" encoding="utf-8" ?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>
<D:locktype><D:write/></D:locktype><D:owner><D:href>GUEST\user</D:href></D:owner></D:lockinfo>
XML
    # Another client lists the folder whose bad name must not be reported.
    _code=$(dav PROPFIND /other/ "$W/wother.xml" -H 'Depth: 1')
    expect_code windows.other_listing "$_code" 207
    # The mini-redirector: Depth 0 allprop on the root, then the Depth 1 listing with the Win32 properties.
    _code=$(windav PROPFIND / "$W/wroot0.xml" -H 'Depth: 0' -H 'Content-Type: text/xml; charset="utf-8"' \
        --data-binary "@$W/wallprop.xml")
    expect_code windows.propfind_d0 "$_code" 207
    _code=$(windav PROPFIND / "$W/wroot.xml" -H 'Depth: 1' -H 'Content-Type: text/xml; charset="utf-8"' \
        --data-binary "@$W/wprop.xml")
    href_names "$W/wroot.xml" >"$W/wroot.names"
    if [ "$_code" = 207 ] && grep -qxF big.iso "$W/wroot.names" && grep -qxF CON "$W/wroot.names"; then
        result windows.propfind_d1 PASS "status=207 entries=$(wc -l <"$W/wroot.names")"
    else
        result windows.propfind_d1 FAIL "status=$_code names: $(tr '\n' '|' <"$W/wroot.names")"
    fi
    # LOCK as Explorer does before writing (no Depth, an hour's timeout), then UNLOCK with the token.
    _code=$(windav LOCK /note.txt "$W/wlock.out" -D "$W/wlock.hdr" -H 'Content-Type: text/xml; charset="utf-8"' \
        -H 'Timeout: Second-3600' -H 'Cache-Control: no-cache' -H 'Pragma: no-cache' --data-binary "@$W/wlock.xml")
    expect_code windows.lock "$_code" 200
    _tok=$(tr -d '\r' <"$W/wlock.hdr" | sed -n 's/^[Ll]ock-[Tt]oken: *//p' | head -n 1)
    _code=$(windav UNLOCK /note.txt "$W/wunlock.out" -H "Lock-Token: $_tok")
    expect_code windows.unlock "$_code" 204
    # The GET that stops at the limit: curl's output is cut after 50,000,000 bytes, so curl closes the connection.
    _t0=$(date +%s)
    curl -s -g -A "$WIN_AGENT" -H 'translate: f' --connect-timeout 5 --max-time 300 "$DAV/big.iso" 2>>"$DBG" |
        head -c "$WIN_LIMIT" >"$W/wbig.part"
    _t1=$(date +%s)
    _got=$(wc -c <"$W/wbig.part")
    rm -f "$W/wbig.part"
    if [ "$_got" = "$WIN_LIMIT" ]; then
        result windows.get_stops_at_limit PASS "read $_got bytes in $((_t1 - _t0)) s"
    else
        result windows.get_stops_at_limit FAIL "read $_got bytes"
    fi
    # The same client giving up on seeing the length: the hint must not come twice.
    _code=$(windav GET /big2.iso /dev/null --max-filesize "$WIN_LIMIT")
    expect_code windows.get_refused_by_size "$_code" 200 000
    # A plain GET still works.
    _code=$(windav GET /note.txt "$W/wnote.txt")
    if [ "$_code" = 200 ] && [ "$(cat "$W/wnote.txt")" = 'a note' ]; then
        result windows.get_small PASS "status=200"
    else
        result windows.get_small FAIL "status=$_code"
    fi
}
