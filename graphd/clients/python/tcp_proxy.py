"""A small TCP proxy on loopback, for the client suites: it forwards every connection to a target,
and on cue resets every connection it carries (RST, as a broken network would) or refuses new
ones (accept, then reset at once). Used as the fault proxy of the leak measurement and, for the
upstream tests, as the [::1] face of a graphd listening on 127.0.0.1 (what docker's port
publishing gives the upstream suite)."""

import socket
import struct
import threading


def _reset(sock):
    """Closes `sock` with an RST (linger 0) rather than a FIN. The shutdown of its reading side
    wakes a thread blocked reading it (a close alone would wait for that read to end)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class Proxy:
    def __init__(self, target, host="127.0.0.1", port=0):
        self.target = target
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, port))
        self.listener.listen(64)
        self.host, self.port = host, self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.pairs = []  # (client side, server side)
        self.accepted = 0
        self.refusing = False
        self.closed = False
        self.resetting = set()  # sockets being reset: their pumps must not send a FIN
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                refusing = self.refusing
            if refusing:
                _reset(client)
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self.lock:
                self.pairs.append((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        with self.lock:
            if sink in self.resetting or source in self.resetting:
                return
            if (source, sink) in self.pairs:
                self.pairs.remove((source, sink))
            elif (sink, source) in self.pairs:
                self.pairs.remove((sink, source))
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def live(self):
        with self.lock:
            return len(self.pairs)

    def reset_all(self):
        """Resets every carried connection, both sides; returns how many."""
        with self.lock:
            pairs, self.pairs = self.pairs, []
            for pair in pairs:
                self.resetting.update(pair)
        for client, server in pairs:
            _reset(client)
            _reset(server)
        return len(pairs)

    def refuse(self, refusing=True):
        with self.lock:
            self.refusing = refusing

    def close(self):
        self.closed = True
        try:
            self.listener.close()
        except OSError:
            pass
        self.reset_all()
