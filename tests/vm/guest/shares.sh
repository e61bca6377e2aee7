# shellcheck shell=sh
# shellcheck source-path=SCRIPTDIR
# Phase "shares" of the e2e scenario (ryll only): ryll serves three named shares, work and spare read-write and
# media read-only (run_e2e.py: NAMED_SHARES, shares_files). The guest's root lists them and refuses every change,
# media refuses writes, files and a tree are copied and moved across shares with curl (the host checks them byte
# for byte afterwards), davfs2 mounted at the root sees every share and writes into one, and litmus runs in work.
# Sourced by e2e.sh after lib.sh.

phase_shares() {
    propfind_check shares.propfind_root_d1 / 1 work spare media
    propfind_check shares.propfind_media_d1 /media/ 1 readme.txt sub
    _code=$(dav GET /media/readme.txt "$W/sh-readme")
    if [ "$_code" = 200 ] && [ "$(cat "$W/sh-readme")" = 'media share, read-only' ]; then
        result shares.get_ro PASS "status=200"
    else
        result shares.get_ro FAIL "status=$_code"
    fi
    printf 'must not arrive\n' >"$W/sh-no.txt"
    refused shares.put_root_refused PUT /new.txt -T "$W/sh-no.txt"
    refused shares.mkcol_root_refused MKCOL /newshare/
    refused shares.delete_share_refused DELETE /spare/
    refused shares.move_share_refused MOVE /spare/ -H "Destination: $DAV/work/spare/"
    refused shares.put_ro_refused PUT /media/new.txt -T "$W/sh-no.txt"
    refused shares.copy_into_ro_refused COPY /work/tree/a.txt -H "Destination: $DAV/media/a.txt"
    refused shares.move_out_of_ro_refused MOVE /media/readme.txt -H "Destination: $DAV/work/readme.txt"

    printf 'written in work\n' >"$W/sh-put.txt"
    expect_code shares.put_rw "$(dav PUT /work/put.txt "$W/out" -T "$W/sh-put.txt")" 201
    expect_code shares.copy_ro_to_rw \
        "$(dav COPY /media/readme.txt "$W/out" -H "Destination: $DAV/work/from-media.txt")" 201
    expect_code shares.copy_tree "$(dav COPY /work/tree/ "$W/out" -H "Destination: $DAV/spare/tree-copy/")" 201
    expect_code shares.move_tree "$(dav MOVE /work/tree/ "$W/out" -H "Destination: $DAV/spare/tree-moved/")" 201
    expect_code shares.move_file "$(dav MOVE /spare/single.bin "$W/out" -H "Destination: $DAV/work/single.bin")" 201
    propfind_check shares.propfind_moved_d1 '/spare/tree-moved/sub dir/' 1 b.bin deeper

    _m=/mnt/shares
    mkdir -p "$_m"
    if timeout 60 mount.davfs "$DAV/" "$_m" </dev/null >>"$DBG" 2>&1; then
        result shares.davfs_mount PASS ""
        ls "$_m" >"$W/sh-ls" 2>>"$DBG"
        if grep -qxF work "$W/sh-ls" && grep -qxF spare "$W/sh-ls" && grep -qxF media "$W/sh-ls"; then
            result shares.davfs_ls_root PASS "$(tr '\n' ' ' <"$W/sh-ls")"
        else
            result shares.davfs_ls_root FAIL "$(tr '\n' '|' <"$W/sh-ls")"
        fi
        _got=$(timeout 60 cat "$_m/media/readme.txt" 2>>"$DBG")
        pass_if shares.davfs_cat_ro "$([ "$_got" = 'media share, read-only' ]; echo $?)" ""
        _ok=0
        printf 'written through davfs2\n' >"$W/sh-davfs.txt"
        timeout 60 cp "$W/sh-davfs.txt" "$_m/work/davfs.txt" 2>>"$DBG" || _ok=1
        pass_if shares.davfs_cp_in "$_ok" ""
        davfs_umount shares.davfs_umount "$_m"
    else
        result shares.davfs_mount FAIL "mount.davfs failed"
    fi

    litmus_suites /work/litmus/ shares shares_ basic copymove
}
