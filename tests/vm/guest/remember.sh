# shellcheck shell=sh
# shellcheck source-path=SCRIPTDIR
# Phase "remember" of the e2e scenario (ryll only): the host ran ryll once with --remember and a share, stopped it,
# and started ryll again with no share flag; the folder this phase reads is the remembered one, shared again.
# The host wrote remembered.txt (the text below) and checks from-guest.txt afterwards (run_e2e.py, remember_first).
# Sourced by e2e.sh after lib.sh.

phase_remember() {
    _code=$(dav GET /remembered.txt "$W/remembered")
    if [ "$_code" = 200 ] && [ "$(cat "$W/remembered")" = 'shared again after a reconnect' ]; then
        result remember.get PASS "status=200, the remembered folder is shared again"
    else
        result remember.get FAIL "status=$_code body=$(head -c 200 "$W/remembered" 2>/dev/null)"
    fi
    # Remembered read-write: the guest can still write.
    printf 'written through the remembered share\n' >"$W/fromguest-rem"
    _code=$(dav PUT /from-guest.txt "$W/put.out" -T "$W/fromguest-rem")
    case $_code in
        201 | 204) result remember.put PASS "status=$_code" ;;
        *) result remember.put FAIL "status=$_code (expected 201/204)" ;;
    esac
}
