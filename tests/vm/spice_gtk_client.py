#!/usr/bin/python3
"""A headless spice-gtk client with ryll's command line, as a baseline for run_e2e.py.

It shares a folder through spice-gtk's own WebDAV server (phodav), exactly like
remote-viewer's "Share folder", but needs no display and supports read-only sharing.
Needs Debian's python3-gi and gir1.2-spiceclientglib-2.0 (system python3):

    /usr/bin/python3 tests/vm/spice_gtk_client.py --direct 127.0.0.1:5930 --headless \\
        --share-dir DIR [--share-dir-ro]

Runs until SIGINT or SIGTERM, then exits 0.
"""

import argparse
import signal
import sys

import gi

gi.require_version("SpiceClientGLib", "2.0")
from gi.repository import GLib, GObject, SpiceClientGLib


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--direct", required=True, metavar="HOST:PORT")
    ap.add_argument("--headless", action="store_true", help="accepted for ryll compatibility")
    ap.add_argument("--share-dir", required=True)
    ap.add_argument("--share-dir-ro", action="store_true")
    args = ap.parse_args()
    host, _, port = args.direct.rpartition(":")

    loop = GLib.MainLoop()
    session = SpiceClientGLib.Session()
    session.props.host = host
    session.props.port = port
    session.props.shared_dir = args.share_dir
    session.props.share_dir_ro = args.share_dir_ro
    status = {"code": 0}

    def log(msg: str) -> None:
        print(f"spice-gtk-client: {msg}", file=sys.stderr, flush=True)

    def on_channel_event(channel, event):
        log(f"channel {type(channel).__name__}: {event.value_nick}")
        if isinstance(channel, SpiceClientGLib.MainChannel) and event in (
            SpiceClientGLib.ChannelEvent.CLOSED,
            SpiceClientGLib.ChannelEvent.ERROR_CONNECT,
            SpiceClientGLib.ChannelEvent.ERROR_IO,
            SpiceClientGLib.ChannelEvent.ERROR_LINK,
        ):
            status["code"] = 1
            loop.quit()

    def on_channel_new(_session, channel):
        log(f"new channel {type(channel).__name__} id={channel.props.channel_id}")
        GObject.Object.connect(channel, "channel-event", on_channel_event)
        if isinstance(channel, SpiceClientGLib.WebdavChannel):
            # Like virt-viewer's "Share folder": sharing is connecting the WebDAV channel.
            SpiceClientGLib.Channel.connect(channel)
        if isinstance(channel, SpiceClientGLib.PortChannel):
            GObject.Object.connect(
                channel,
                "notify::port-opened",
                lambda ch, _p: log(f"port {ch.props.port_name} opened={ch.props.port_opened}"),
            )

    def on_signal() -> bool:
        log("signal received, disconnecting")
        session.disconnect()
        loop.quit()
        return GLib.SOURCE_REMOVE

    # Session.connect() is spice_session_connect(); GObject.Object.connect() is the signal one.
    GObject.Object.connect(session, "channel-new", on_channel_new)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, on_signal)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, on_signal)
    if not session.connect():
        log("connect failed")
        return 1
    log(f"connected to {host}:{port}, sharing {args.share_dir} ro={args.share_dir_ro}")
    loop.run()
    return status["code"]


if __name__ == "__main__":
    sys.exit(main())
