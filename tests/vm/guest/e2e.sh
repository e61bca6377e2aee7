# shellcheck shell=sh
# shellcheck source-path=SCRIPTDIR
# End-to-end scenario: phases rw, ro and restart (see tests/vm/README.md).
# The host prepares the share trees; the names used here must match run_e2e.py.

# shellcheck source=lib.sh
. /ryll/lib.sh
# shellcheck source=protect.sh
. /ryll/protect.sh
# shellcheck source=shares.sh
. /ryll/shares.sh
# shellcheck source=remember.sh
. /ryll/remember.sh
# shellcheck source=windows.sh
. /ryll/windows.sh

PHASE_WAIT=${PHASE_WAIT:-$(cmdline_arg ryll.phasewait 300)}
W=/tmp/e2e
mkdir -p "$W"
cd "$W" || exit 1

# ---------------------------------------------------------------------------------------
# propfind_check CHECK PATH DEPTH NAME... : 207 and every NAME among the hrefs' names.
propfind_check() {
    _c=$1
    _path=$2
    _depth=$3
    shift 3
    _code=$(dav PROPFIND "$_path" "$W/pf.xml" -H "Depth: $_depth" -H 'Content-Type: text/xml')
    if [ "$_code" != 207 ]; then
        result "$_c" FAIL "status=$_code"
        return
    fi
    href_names "$W/pf.xml" >"$W/pf.names"
    _missing=""
    for _n in "$@"; do
        grep -qxF "$_n" "$W/pf.names" || _missing="$_missing '$_n'"
    done
    if [ -n "$_missing" ]; then
        result "$_c" FAIL "status=207 missing:$_missing"
        dbg "names seen: $(tr '\n' '|' <"$W/pf.names")"
        dbg "body: $(tr -d '\r\n' <"$W/pf.xml" | head -c 4000)"
    else
        result "$_c" PASS "status=207 entries=$(wc -l <"$W/pf.names")"
    fi
}

# refused CHECK METHOD PATH [curl args...] : any 4xx/5xx passes.
refused() {
    _c=$1
    _m=$2
    _p=$3
    shift 3
    _code=$(dav "$_m" "$_p" "$W/refused.out" "$@")
    case $_code in
        4?? | 5??) result "$_c" PASS "status=$_code" ;;
        *) result "$_c" FAIL "status=$_code (expected 4xx/5xx)" ;;
    esac
}

expect_code() { # CHECK GOT ALLOWED...
    _c=$1
    _got=$2
    shift 2
    for _a in "$@"; do
        if [ "$_got" = "$_a" ]; then
            result "$_c" PASS "status=$_got"
            return 0
        fi
    done
    result "$_c" FAIL "status=$_got (expected $*)"
    return 1
}

# ---------------------------------------------------------------------------------------
phase_rw() {
    # PROPFIND
    propfind_check rw.propfind_root_d0 / 0
    propfind_check rw.propfind_root_d1 / 1 hello.txt 'notes with spaces.txt' 'café menu.txt' \
        '100% done.txt' 'sub dir' data parallel MANIFEST.sha256
    propfind_check rw.propfind_sub_d0 '/sub dir/' 0 'sub dir'
    propfind_check rw.propfind_sub_d1 '/sub dir/' 1 inner.txt deeper

    # GET of every file in the manifest
    _code=$(dav GET /MANIFEST.sha256 "$W/manifest")
    expect_code rw.get_manifest "$_code" 200
    _n=0
    _bad=""
    while read -r _sum _name; do
        [ -n "$_name" ] || continue
        _n=$((_n + 1))
        _code=$(dav GET "/$_name" "$W/got")
        _got=$(sha_of "$W/got")
        [ "$_code" = 200 ] && [ "$_got" = "$_sum" ] || _bad="$_bad '$_name'($_code)"
    done <"$W/manifest"
    if [ "$_n" -gt 0 ] && [ -z "$_bad" ]; then
        result rw.get_files PASS "files=$_n sha256 ok"
    else
        result rw.get_files FAIL "files=$_n bad:$_bad"
    fi
    rm -f "$W/got"

    _code=$(dav GET /no-such-file.txt "$W/missing")
    expect_code rw.get_missing_404 "$_code" 404

    # PUT of a 64 MiB file made here
    head -c 67108864 /dev/urandom >"$W/upload-64m.bin"
    _sum=$(sha_of "$W/upload-64m.bin")
    say "UPLOAD upload-64m.bin $_sum"
    _t0=$(date +%s)
    _code=$(dav PUT /upload-64m.bin "$W/put.out" -T "$W/upload-64m.bin" -H 'Expect:' \
        --max-time 600)
    _t1=$(date +%s)
    expect_code rw.put_64m "$_code" 201 204 && dbg "64 MiB PUT took $((_t1 - _t0)) s"
    _code=$(dav GET /upload-64m.bin "$W/readback.bin" --max-time 600)
    _got=$(sha_of "$W/readback.bin")
    if [ "$_code" = 200 ] && [ "$_got" = "$_sum" ]; then
        result rw.get_64m_back PASS "sha256 ok"
    else
        result rw.get_64m_back FAIL "status=$_code sha256=$_got"
    fi
    rm -f "$W/upload-64m.bin" "$W/readback.bin"

    # PUT with Expect: 100-continue
    head -c 2097152 /dev/urandom >"$W/expect.bin"
    say "UPLOAD expect-100.bin $(sha_of "$W/expect.bin")"
    _code=$(dav PUT /expect-100.bin "$W/put.out" -T "$W/expect.bin" -H 'Expect: 100-continue')
    expect_code rw.put_expect_100 "$_code" 201 204
    rm -f "$W/expect.bin"

    # small PUT into a directory whose name has a space
    printf 'written by the guest\n' >"$W/small.txt"
    _code=$(dav PUT '/sub dir/from guest.txt' "$W/put.out" -T "$W/small.txt" -H 'Expect:')
    expect_code rw.put_small "$_code" 201 204

    # MKCOL, COPY, MOVE, DELETE
    _code=$(dav MKCOL /new-folder/ "$W/out")
    expect_code rw.mkcol "$_code" 201
    _code=$(dav MKCOL /new-folder/ "$W/out")
    expect_code rw.mkcol_existing_405 "$_code" 405
    _code=$(dav COPY /to-copy.txt "$W/out" -H "Destination: $DAV/new-folder/copied.txt")
    expect_code rw.copy "$_code" 201 204
    _code=$(dav MOVE /to-move.txt "$W/out" -H "Destination: $DAV/new-folder/moved.txt")
    expect_code rw.move "$_code" 201 204
    _code=$(dav DELETE /to-delete.txt "$W/out")
    expect_code rw.delete "$_code" 200 204
    _code=$(dav GET /to-delete.txt "$W/out")
    expect_code rw.get_deleted_404 "$_code" 404

    parallel_downloads
    davfs_checks
    litmus_suites /litmus/ rw "" basic copymove props locks http
}

parallel_downloads() {
    _i=1
    while [ $_i -le 8 ]; do
        dav GET "/parallel/p$_i.bin" "$W/p$_i.bin" >"$W/p$_i.code" &
        _i=$((_i + 1))
    done
    wait
    _bad=""
    _i=1
    while [ $_i -le 8 ]; do
        _want=$(awk -v n="parallel/p$_i.bin" '$2 == n { print $1 }' "$W/manifest")
        _got=$(sha_of "$W/p$_i.bin")
        [ "$(cat "$W/p$_i.code")" = 200 ] && [ -n "$_want" ] && [ "$_got" = "$_want" ] ||
            _bad="$_bad p$_i($(cat "$W/p$_i.code"))"
        rm -f "$W/p$_i.bin"
        _i=$((_i + 1))
    done
    if [ -z "$_bad" ]; then
        result rw.parallel_get_8 PASS "8 files, sha256 ok"
    else
        result rw.parallel_get_8 FAIL "bad:$_bad"
    fi
}

davfs_checks() {
    M=/mnt/dav
    mkdir -p "$M"
    if ! timeout 60 mount.davfs "$DAV/" "$M" </dev/null >>"$DBG" 2>&1; then
        result rw.davfs_mount FAIL "mount.davfs failed"
        return
    fi
    result rw.davfs_mount PASS ""
    if ls "$M" >"$W/ls.out" 2>>"$DBG" && grep -qxF hello.txt "$W/ls.out" &&
        grep -qxF 'sub dir' "$W/ls.out"; then
        result rw.davfs_ls PASS "entries=$(wc -l <"$W/ls.out")"
    else
        result rw.davfs_ls FAIL "$(tr '\n' '|' <"$W/ls.out")"
    fi
    _want=$(awk '$2 == "hello.txt" { print $1 }' "$W/manifest")
    _got=$(timeout 60 cat "$M/hello.txt" 2>>"$DBG" | sha256sum | cut -d' ' -f1)
    pass_if rw.davfs_cat "$([ "$_got" = "$_want" ]; echo $?)" "sha256=$_got"

    head -c 300000 /dev/urandom >"$W/davfs-keep.bin"
    say "UPLOAD davfs-keep.bin $(sha_of "$W/davfs-keep.bin")"
    printf 'temporary\n' >"$W/davfs-temp.txt"
    printf 'moved by davfs\n' >"$W/davfs-b.txt"
    _ok=0
    timeout 60 cp "$W/davfs-keep.bin" "$M/davfs-keep.bin" 2>>"$DBG" || _ok=1
    timeout 60 cp "$W/davfs-temp.txt" "$M/davfs-temp.txt" 2>>"$DBG" || _ok=1
    timeout 60 cp "$W/davfs-b.txt" "$M/davfs-b.txt" 2>>"$DBG" || _ok=1
    pass_if rw.davfs_cp_in "$_ok" ""
    _ok=0
    timeout 60 mkdir "$M/davfs-dir" 2>>"$DBG" || _ok=1
    pass_if rw.davfs_mkdir "$_ok" ""
    _ok=0
    timeout 60 mv "$M/davfs-b.txt" "$M/davfs-dir/davfs-moved.txt" 2>>"$DBG" || _ok=1
    pass_if rw.davfs_mv "$_ok" ""
    _ok=0
    timeout 60 rm "$M/davfs-temp.txt" "$M/davfs-remove-me.txt" 2>>"$DBG" || _ok=1
    pass_if rw.davfs_rm "$_ok" ""

    davfs_umount rw.davfs_umount "$M"
}

# litmus_suites BASE CHECK-PREFIX TAG-PREFIX SUITE... : run litmus SUITEs in the new folder BASE; the LITMUS lines
# name each suite TAG-PREFIX plus its name.
litmus_suites() {
    _lb=$1
    _lc=$2
    _lt=$3
    shift 3
    _code=$(dav MKCOL "$_lb" "$W/out")
    expect_code "$_lc.litmus_mkcol" "$_code" 201
    for _ls in "$@"; do
        _s=$_lt$_ls
        mkdir -p "$W/litmus-$_s"
        (cd "$W/litmus-$_s" && timeout 300 "/usr/libexec/litmus/$_ls" \
            --htdocs /usr/share/litmus/htdocs "$DAV$_lb" >"$W/litmus-$_s/out" 2>&1)
        _rc=$?
        sed "s/^/litmus $_s: /" "$W/litmus-$_s/out" >>"$DBG"
        _sum=$(grep "summary for" "$W/litmus-$_s/out" | tail -n1)
        _passed=$(echo "$_sum" | sed -n 's/.* \([0-9][0-9]*\) passed.*/\1/p')
        _failed=$(echo "$_sum" | sed -n 's/.* \([0-9][0-9]*\) failed.*/\1/p')
        if [ -z "$_passed" ] || [ -z "$_failed" ]; then
            say "LITMUS $_s 0 1"
            say "LITMUS_FAIL $_s (suite) no summary, exit status $_rc"
        else
            say "LITMUS $_s $_passed $_failed"
        fi
        _skipped=$(sed -n 's/.* \([0-9][0-9]*\) tests\{0,1\} w[a-z]* skipped.*/\1/p' "$W/litmus-$_s/out" | tail -n1)
        [ -n "$_skipped" ] && say "LITMUS_SKIP $_s $_skipped"
        # Failing tests look like " 7. name....... FAIL (reason)".
        tr '\r' '\n' <"$W/litmus-$_s/out" |
            sed -n 's/^ *[0-9][0-9]*\. \([A-Za-z0-9_]*\)\.*[ ]*FAIL *\(.*\)$/\1 \2/p' |
            while read -r _t _why; do
                say "LITMUS_FAIL $_s $_t $_why"
            done
    done
}

# ---------------------------------------------------------------------------------------
phase_ro() {
    _code=$(dav GET /MANIFEST.sha256 "$W/manifest-ro")
    expect_code ro.get_manifest "$_code" 200
    _want=$(awk '$2 == "readme.txt" { print $1 }' "$W/manifest-ro")
    _code=$(dav GET /readme.txt "$W/readme")
    _got=$(sha_of "$W/readme")
    if [ "$_code" = 200 ] && [ -n "$_want" ] && [ "$_got" = "$_want" ]; then
        result ro.get PASS "status=200 sha256 ok"
    else
        result ro.get FAIL "status=$_code sha256=$_got"
    fi
    propfind_check ro.propfind_d1 / 1 readme.txt sub
    propfind_check ro.propfind_sub_d1 /sub/ 1 inner.txt

    printf 'must not arrive\n' >"$W/ro.txt"
    refused ro.put_new_refused PUT /ro-new.txt -T "$W/ro.txt"
    refused ro.put_overwrite_refused PUT /readme.txt -T "$W/ro.txt"
    refused ro.delete_refused DELETE /readme.txt
    refused ro.delete_dir_refused DELETE /sub/
    refused ro.mkcol_refused MKCOL /ro-newdir/
    refused ro.copy_refused COPY /readme.txt -H "Destination: $DAV/ro-copy.txt"
    refused ro.move_refused MOVE /readme.txt -H "Destination: $DAV/ro-moved.txt"
    cat >"$W/proppatch.xml" <<'EOF'
<?xml version="1.0" encoding="utf-8"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://example.com/ryll/">
  <D:set><D:prop><Z:colour>blue</Z:colour></D:prop></D:set>
</D:propertyupdate>
EOF
    refused ro.proppatch_refused PROPPATCH /readme.txt -H 'Content-Type: text/xml' \
        --data-binary "@$W/proppatch.xml"
    cat >"$W/lock.xml" <<'EOF'
<?xml version="1.0" encoding="utf-8"?>
<D:lockinfo xmlns:D="DAV:">
  <D:lockscope><D:exclusive/></D:lockscope>
  <D:locktype><D:write/></D:locktype>
  <D:owner>ryll-e2e</D:owner>
</D:lockinfo>
EOF
    refused ro.lock_refused LOCK /readme.txt -H 'Content-Type: text/xml' -H 'Timeout: Second-60' \
        --data-binary "@$W/lock.xml"
    refused ro.lock_new_refused LOCK /ro-locknull.txt -H 'Content-Type: text/xml' \
        -H 'Timeout: Second-60' --data-binary "@$W/lock.xml"

    _code=$(dav GET /readme.txt "$W/readme")
    _got=$(sha_of "$W/readme")
    if [ "$_code" = 200 ] && [ "$_got" = "$_want" ]; then
        result ro.get_after PASS "status=200 sha256 ok"
    else
        result ro.get_after FAIL "status=$_code sha256=$_got"
    fi
}

phase_restart() {
    _want=$(awk '$2 == "hello.txt" { print $1 }' "$W/manifest")
    _code=$(dav GET /hello.txt "$W/hello")
    _got=$(sha_of "$W/hello")
    if [ "$_code" = 200 ] && [ "$_got" = "$_want" ]; then
        result restart.get PASS "status=200 sha256 ok"
    else
        result restart.get FAIL "status=$_code sha256=$_got"
    fi
    _code=$(dav GET '/sub dir/from guest.txt' "$W/fromguest")
    if [ "$_code" = 200 ] && [ "$(cat "$W/fromguest")" = 'written by the guest' ]; then
        result restart.get_uploaded PASS "status=200"
    else
        result restart.get_uploaded FAIL "status=$_code"
    fi
}

# ---------------------------------------------------------------------------------------
# The phases the host runs, in order (comma-separated on the kernel command line).
PHASES=$(cmdline_arg ryll.phases rw,ro,restart | tr ',' ' ')
for phase in $PHASES; do
    say "PHASE $phase WAIT"
    # With named shares the phase file is in the first share.
    _pf=/_phase.txt
    [ "$phase" = shares ] && _pf=/work/_phase.txt
    if ! wait_phase "$phase" "$PHASE_WAIT" "$_pf"; then
        result "$phase.phase_start" FAIL "no '$phase' in $_pf after ${PHASE_WAIT}s"
        say "PHASE $phase ABORT"
        break
    fi
    say "PHASE $phase START uptime=$(uptime_s)"
    "phase_$phase"
    say "PHASE $phase DONE uptime=$(uptime_s)"
done
if [ -s "$FAILS" ]; then
    say "GUEST SUMMARY failed=$(wc -l <"$FAILS")"
else
    say "GUEST SUMMARY failed=0"
fi
