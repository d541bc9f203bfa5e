"""A small TCP proxy on loopback, for the client suites: it forwards every connection to a target,
and on cue resets every connection it carries (RST, as a broken network would), refuses new
ones (accept, then reset at once: a dead host's port), stalls the connections it carries (holds
their bytes, no FIN, no RST, until `resume`) or makes them half-open (the server's replies are
dropped silently for good, while the client's requests still reach the server). Connections
accepted after a stall or a half-open cut are forwarded normally. Used as the fault proxy of the leak measurement and, for the
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
        self.gates = {}  # socket -> Event: set while its bytes may flow on
        self.dropping = set()  # server sockets whose replies are dropped (half-open)
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
                for sock in (client, server):
                    self.gates[sock] = threading.Event()
                    self.gates[sock].set()
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                with self.lock:
                    gate = self.gates.get(source)
                    dropped = source in self.dropping
                if gate is not None:
                    gate.wait()
                if dropped:
                    continue
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
                for sock in pair:  # a stalled pump must wake to see its socket reset
                    self.gates[sock].set()
        for client, server in pairs:
            _reset(client)
            _reset(server)
        return len(pairs)

    def stall(self):
        """Holds the bytes of every carried connection, both ways, until `resume`; returns how
        many connections. Nothing is closed: the peers see silence."""
        with self.lock:
            pairs = list(self.pairs)
            for pair in pairs:
                for sock in pair:
                    self.gates[sock].clear()
        return len(pairs)

    def resume(self):
        """Lets the stalled bytes flow on."""
        with self.lock:
            for gate in self.gates.values():
                gate.set()

    def half_open(self):
        """From now on, drops silently what the server sends on every carried connection (the
        client's requests still reach the server): to the client the link stays open and never
        answers. Returns how many connections."""
        with self.lock:
            pairs = list(self.pairs)
            self.dropping.update(server for _, server in pairs)
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
