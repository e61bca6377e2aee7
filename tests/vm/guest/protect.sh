# shellcheck shell=sh
# shellcheck source-path=SCRIPTDIR
# Phase "protect" of the e2e scenario: the host shares a home-like folder read-write (run_e2e.py,
# home_files/home_links); every credential store and login file is attacked with every method, raw encodings,
# symlinks the user made, COPY/MOVE destinations, LOCK, Windows mini-redirector requests and davfs2. No answer may
# carry a secret (every secret file holds SECRET-KEY) and the host checks the tree byte for byte afterwards.
# Sourced by e2e.sh after lib.sh.

WIN_UA='Microsoft-WebDAV-MiniRedir/10.0.19045'

# rawdav METHOD RAW-PATH OUTFILE [curl args...]: like dav, but the path is sent exactly as given (encoded tricks).
# (Shell variables are global: the helpers use names of their own, so a caller's loop variable survives.)
rawdav() {
    _wm=$1
    _wp=$2
    _wo=$3
    shift 3
    curl -s -g --path-as-is -o "$_wo" -w '%{http_code}' --connect-timeout 5 --max-time 60 \
        -X "$_wm" "$@" "$DAV$_wp" 2>>"$DBG" || true
}

# protect_refused CHECK METHOD RAW-PATH [curl args...]: 4xx, or a 207 without success, and no secret in the body.
protect_refused() {
    _rc=$1
    _rm=$2
    _rp=$3
    shift 3
    : >"$W/prot.out"
    _rcode=$(rawdav "$_rm" "$_rp" "$W/prot.out" "$@")
    if grep -q SECRET-KEY "$W/prot.out"; then
        result "$_rc" FAIL "status=$_rcode and a secret in the answer"
        return
    fi
    case $_rcode in
        4??) result "$_rc" PASS "status=$_rcode" ;;
        207)
            if grep -q 'HTTP/1.1 2' "$W/prot.out"; then
                result "$_rc" FAIL "status=207 with a successful entry"
            else
                result "$_rc" PASS "status=207, every entry refused"
            fi
            ;;
        *) result "$_rc" FAIL "status=$_rcode (expected 4xx)" ;;
    esac
}

phase_protect() {
    printf 'PWNED\n' >"$W/pwned.txt"
    cat >"$W/plock.xml" <<'XML'
<?xml version="1.0" encoding="utf-8"?>
<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>
<D:owner><D:href>guest</D:href></D:owner></D:lockinfo>
XML
    cat >"$W/pwinprop.xml" <<'XML'
<?xml version="1.0" encoding="utf-8" ?><D:propfind xmlns:D="DAV:"><D:prop><D:creationdate/><D:displayname/>
<D:getcontentlength/><D:getcontenttype/><D:getetag/><D:getlastmodified/><D:resourcetype/></D:prop></D:propfind>
XML
    cat >"$W/pproppatch.xml" <<'XML'
<?xml version="1.0" encoding="utf-8"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop>
<Z:Win32FileAttributes>00000020</Z:Win32FileAttributes></D:prop></D:set></D:propertyupdate>
XML
    _i=0
    # Reads of credential stores, every spelling.
    for _t in /.ssh/id_ed25519 /.ssh/ /%2essh/id_ed25519 /%2Essh/%69d_ed25519 //.ssh//id_ed25519 \
        /.SSH/id_ed25519 /keys/id_ed25519 /key-file /Documents/home/.ssh/id_ed25519 /.gnupg/k.key \
        /.docker/config.json /.netrc /.aws/credentials /.local/share/keyrings/login.keyring; do
        _i=$((_i + 1))
        protect_refused "protect.get_hidden_$_i" GET "$_t"
        protect_refused "protect.propfind_hidden_$_i" PROPFIND "$_t" -H 'Depth: 1'
        protect_refused "protect.win_propfind_hidden_$_i" PROPFIND "$_t" -A "$WIN_UA" -H 'Depth: 0' \
            -H 'Content-Type: text/xml' --data-binary "@$W/pwinprop.xml"
        protect_refused "protect.copy_out_$_i" COPY "$_t" -H "Destination: $DAV/Documents/stolen-$_i"
    done
    # Writes to credential stores and login files, directly, through links and encoded.
    _i=0
    for _t in /.ssh/authorized_keys /keys/authorized_keys /%2essh/authorized_keys /.ssh/new /.bashrc /rc \
        /%2ebashrc /Documents/home/.bashrc /.profile /.config/autostart/evil.desktop \
        /cfg/autostart/evil.desktop /.config/systemd/user/evil.service /.local/share/applications/evil.desktop \
        /.xprofile /.zshrc; do
        _i=$((_i + 1))
        protect_refused "protect.put_$_i" PUT "$_t" -T "$W/pwned.txt"
        protect_refused "protect.win_put_$_i" PUT "$_t" -A "$WIN_UA" -T "$W/pwned.txt"
        protect_refused "protect.delete_$_i" DELETE "$_t"
        protect_refused "protect.lock_$_i" LOCK "$_t" -H 'Content-Type: text/xml' -H 'Timeout: Second-60' \
            --data-binary "@$W/plock.xml"
        protect_refused "protect.win_lock_$_i" LOCK "$_t" -A "$WIN_UA" -H 'Content-Type: text/xml' \
            -H 'Timeout: Second-3600' -H 'Depth: 0' --data-binary "@$W/plock.xml"
        protect_refused "protect.proppatch_$_i" PROPPATCH "$_t" -A "$WIN_UA" -H 'Content-Type: text/xml' \
            --data-binary "@$W/pproppatch.xml"
        protect_refused "protect.copy_in_$_i" COPY /Documents/notes.txt -H "Destination: $DAV$_t" \
            -H 'Overwrite: T'
        protect_refused "protect.move_in_$_i" MOVE /Documents/notes.txt -H "Destination: $DAV$_t" \
            -H 'Overwrite: T'
        protect_refused "protect.move_out_$_i" MOVE "$_t" -H "Destination: $DAV/Documents/moved-$_i"
    done
    protect_refused protect.mkcol_ssh_new MKCOL /.ssh/newdir/
    protect_refused protect.mkcol_autostart MKCOL /.config/autostart/newdir/
    protect_refused protect.move_config MOVE /.config/ -H "Destination: $DAV/Documents/config-moved/"
    protect_refused protect.move_dir_in MOVE /Documents/ -H "Destination: $DAV/.config/autostart/docs/"

    # Login files stay readable; listings hide the stores and the links to them.
    _code=$(rawdav GET /.bashrc "$W/bashrc")
    expect_code protect.get_bashrc "$_code" 200
    _code=$(dav PROPFIND / "$W/home.xml" -H 'Depth: 1')
    href_names "$W/home.xml" >"$W/home.names"
    if [ "$_code" = 207 ] && grep -qxF .bashrc "$W/home.names" && grep -qxF Documents "$W/home.names" &&
        ! grep -qE '^(\.ssh|\.gnupg|\.netrc|\.aws|keys|key-file)$' "$W/home.names"; then
        result protect.listing PASS "status=207 entries=$(wc -l <"$W/home.names")"
    else
        result protect.listing FAIL "status=$_code names: $(tr '\n' '|' <"$W/home.names")"
    fi

    # davfs2: the mount shows no store, cannot read one through a link, and its writes to a login file fail.
    M=/mnt/home
    mkdir -p "$M"
    if timeout 60 mount.davfs "$DAV/" "$M" </dev/null >>"$DBG" 2>&1; then
        ls -a "$M" >"$W/home.ls" 2>>"$DBG"
        if grep -qxF .bashrc "$W/home.ls" && ! grep -qE '^(\.ssh|\.gnupg|keys|key-file)$' "$W/home.ls"; then
            result protect.davfs_ls PASS "entries=$(wc -l <"$W/home.ls")"
        else
            result protect.davfs_ls FAIL "$(tr '\n' '|' <"$W/home.ls")"
        fi
        if timeout 30 cat "$M/key-file" "$M/keys/id_ed25519" "$M/.ssh/id_ed25519" 2>>"$DBG" | grep -q SECRET-KEY; then
            result protect.davfs_read FAIL "a secret was read"
        else
            result protect.davfs_read PASS ""
        fi
        # The write itself may appear to work (davfs2 uploads on close); the host checks the file.
        # shellcheck disable=SC2129 # two separate writes, each through the mount
        timeout 30 sh -c "echo PWNED >>'$M/.bashrc'" 2>>"$DBG"
        timeout 30 sh -c "echo PWNED >'$M/.config/autostart/evil.desktop'" 2>>"$DBG"
        timeout 60 umount "$M" 2>>"$DBG"
        _n=0
        while pidof mount.davfs >/dev/null && [ $_n -lt 120 ]; do
            sleep 0.5
            _n=$((_n + 1))
        done
    else
        result protect.davfs_mount FAIL "mount.davfs failed"
    fi
}
