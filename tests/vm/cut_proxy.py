"""A TCP relay between a SPICE client and a server that can cut one channel's connection on demand.

Each connection the client opens is relayed to the server unchanged. The relay reads the channel type from the
client's link message (SpiceLinkHeader, 16 bytes, then SpiceLinkMess: u32 connection id, u8 channel type, u8
channel id) before it relays anything, so `cut(channel_type)` can drop every connection of that type: the client's
side is reset (SO_LINGER 0, the client's next read fails with ECONNRESET, as when a link breaks), the server's side
is closed. Used by tests/vm/run_display.py to make ryll's session relink its display channel mid-session.
"""

from __future__ import annotations

import socket
import struct
import threading

LINK_PREFIX = 16 + 6
DISPLAY = 2


class CutProxy:
    def __init__(self, upstream_port: int, host: str = "127.0.0.1") -> None:
        self.upstream = (host, upstream_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        # (channel type, client socket, server socket) of every live relayed connection.
        self.live: list[tuple[int, socket.socket, socket.socket]] = []
        self.linked: list[int] = []  # the channel type of every connection seen, in order
        self.cut_socks: set[socket.socket] = set()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def links(self, channel_type: int) -> int:
        """How many connections of that channel type the client has opened so far."""
        with self.lock:
            return self.linked.count(channel_type)

    def cut(self, channel_type: int) -> int:
        """Drops every live connection of that channel type; returns how many."""
        with self.lock:
            hit = [c for c in self.live if c[0] == channel_type]
            self.live = [c for c in self.live if c[0] != channel_type]
        for _, client, server in hit:
            # A socket closed while a relay thread waits in recv() on it lives on until that recv returns: wake
            # both threads first. SHUT_RD sends nothing, so the client gets the reset, not an end of stream.
            self.cut_socks.update((client, server))
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            for s, how in ((client, socket.SHUT_RD), (server, socket.SHUT_RDWR)):
                try:
                    s.shutdown(how)
                except OSError:
                    pass
                s.close()
        return len(hit)

    def close(self) -> None:
        self.closed = True
        self.listener.close()
        with self.lock:
            live, self.live = self.live, []
        for _, client, server in live:
            client.close()
            server.close()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        head = b""
        try:
            while len(head) < LINK_PREFIX:
                more = client.recv(LINK_PREFIX - len(head))
                if not more:
                    client.close()
                    return
                head += more
            server = socket.create_connection(self.upstream, timeout=10)
            server.settimeout(None)
            server.sendall(head)
        except OSError:
            client.close()
            return
        channel_type = head[20]
        with self.lock:
            self.live.append((channel_type, client, server))
            self.linked.append(channel_type)
        threading.Thread(target=self._pump, args=(server, client), daemon=True).start()
        self._pump(client, server)

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        if src in self.cut_socks or dst in self.cut_socks:
            return  # cut: no shutdown, which would send the client an end of stream before the reset
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
