# shellcheck shell=sh
# shellcheck source-path=SCRIPTDIR
# Demo: list the shared folder, show a file, write one back. Lines start with "DEMO".

# shellcheck source=lib.sh
. /ryll/lib.sh

W=/tmp/demo
mkdir -p "$W"
say "DEMO | guest: waiting for the shared folder on $DAV/ ..."
if ! wait_dav "$(cmdline_arg ryll.phasewait 300)"; then
    say "DEMO | guest: the shared folder never answered"
    say "DEMO FAILED"
    exit 0
fi
_code=$(dav PROPFIND / "$W/list.xml" -H 'Depth: 1')
say "DEMO | guest: PROPFIND / (Depth 1) -> HTTP $_code; the folder holds:"
href_names "$W/list.xml" | sed '/^$/d' | LC_ALL=C sort | while IFS= read -r n; do
    say "DEMO |     $n"
done
_code=$(dav GET /welcome.txt "$W/welcome.txt")
say "DEMO | guest: GET /welcome.txt -> HTTP $_code:"
while IFS= read -r line; do
    say "DEMO |     $line"
done <"$W/welcome.txt"
printf 'Hello from the guest!\nWritten by %s (kernel %s) at uptime %ss through spice-webdavd.\n' \
    "$(hostname)" "$(uname -r)" "$(uptime_s)" >"$W/hello.txt"
_code=$(dav PUT /hello-from-guest.txt "$W/put.out" -T "$W/hello.txt" -H 'Expect:')
say "DEMO | guest: PUT /hello-from-guest.txt -> HTTP $_code"
say "DEMO DONE"
