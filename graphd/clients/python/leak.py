"""Measures how many sessions an official client leaves behind on graphd when its connection is
reset: the Node.js client 3.0.3 and nebula3-python 3.8.3 each get the same script through a
fault proxy (tcp_proxy.py):

1. connect through the proxy and log in (a dedicated user; the Node.js client also USEs a space);
2. N times: the proxy resets the connection, and the client is given time to come back
   (the Node.js client reconnects by itself; python's Session re-sends its next statement on a
   new connection);
3. SHOW SESSIONS, straight to graphd: the user's sessions (one is the client's live session;
   the rest are leaked);
4. the proxy resets the connection and refuses new ones, then the application closes the client
   while it is disconnected (python: Session.release, then ConnectionPool.close); the proxy
   accepts connections again for a while, so a login after close would be seen;
5. SHOW SESSIONS again: every session left is leaked (nothing will sign it out before the idle
   timeout).

    python leak.py --port 9669 [--resets 5] [--node-script PATH] [--rust-driver PATH]

With --rust-driver (graphsession-client's `leak_driver` example, built by `cargo xtask
clients`), graphsession-client goes through the same steps and must leave nothing: no
session, no zombie, no statement lost.

Prints the table of the README and exits non-zero if a measurement differs from EXPECTED (the
numbers the README states) or a client could not be driven."""

import argparse
import json
import os
import queue
import subprocess
import sys
import threading
import time

from nebula3.Config import Config, SessionPoolConfig
from nebula3.gclient.net import ConnectionPool
from nebula3.gclient.net.SessionPool import SessionPool

from client import Conn, create_user, sessions_of, wait_until
from tcp_proxy import Proxy

SPACE = "leak_space"


def expected(resets):
    """What the README states, per client: (sessions after the resets, after the close)."""
    return {
        # A login per reconnect, the old session never signed out; close while disconnected
        # signs nothing out, and its reconnect loop goes on: once the server is reachable again
        # it logs in once more, after close.
        "@nebula-contrib/nebula-nodejs 3.0.3": (resets + 1, resets + 2),
        # The same session id is re-sent on a new connection: nothing leaks from resets; the
        # release while disconnected sends its sign-out on a dead socket: one session leaks.
        "nebula3-python 3.8.3": (1, 1),
        # The SessionPool drops a session whose connection broke without signing it out, and
        # makes a new one: one leaked per reset; close signs out on dead sockets: all leak.
        "nebula3-python 3.8.3 SessionPool": (resets + 1, resets + 1),
        # graphsession-client: the same id is resumed on the new connection after every reset;
        # close while disconnected keeps the sign-out in the outbox and delivers it (proven by
        # a ping) once the server is reachable again: nothing leaks, no login after close.
        "graphsession-client 0.1.0": (1, 0),
        # bb8-nebula hands out a session whose socket was reset until a write fails with
        # EPIPE (nebula-client marks only a broken pipe, not a reset, as "close required"),
        # then logs in anew without signing the old session out; dropping the pool signs
        # nothing out (a GraphSession signs out only through signout(self)).
        "nebula-client 0.7.3 + bb8-nebula 0.9": (2, 2),
    }


class NodeClient:
    def __init__(self, script, proxy, user, password):
        self.events = queue.Queue()
        self.log = []
        self.process = subprocess.Popen(
            ["node", script, f"127.0.0.1:{proxy.port}", user, password, SPACE],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "output", "text": line.rstrip()}
            self.log.append(event)
            self.events.put(event)

    def count(self, name):
        return sum(1 for event in self.log if event["event"] == name)

    def wait_count(self, name, count, seconds):
        wait_until(lambda: self.count(name) >= count, seconds,
                   f"node client: {count} '{name}' events (log: {self.log[-8:]})")

    def send(self, command):
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def stop(self):
        if self.process.poll() is None:
            try:
                self.send("exit")
                self.process.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(5)


def measure_node(admin, graphd_addr, script, resets):
    user = f"lk_node_{os.getpid() % 100000}"
    create_user(admin, user, "pw", space=SPACE, role="USER")
    proxy = Proxy(graphd_addr)
    client = NodeClient(script, proxy, user, "pw")
    try:
        client.wait_count("ready", 1, 15)
        for i in range(resets):
            proxy.reset_all()
            client.wait_count("ready", i + 2, 15)
        client.send("exec")
        client.wait_count("executed", 1, 10)
        after_resets = len(sessions_of(admin, user))
        reconnects = client.count("reconnecting")
        proxy.refuse(True)
        proxy.reset_all()
        client.wait_count("reconnecting", reconnects + 1, 10)
        client.send("close")
        client.wait_count("closed", 1, 10)
        logins_before = client.count("authorized")
        proxy.refuse(False)
        time.sleep(2.5)  # the reconnect loop retries every second at most
        logins_after_close = client.count("authorized") - logins_before
        after_close = len(sessions_of(admin, user))
        return {"resets": resets, "logins": client.count("authorized"),
                "after_resets": after_resets, "after_close": after_close,
                "logins_after_close": logins_after_close}
    finally:
        client.stop()
        proxy.close()


def measure_python(admin, graphd_addr, resets):
    user = f"lk_py_{os.getpid() % 100000}"
    create_user(admin, user, "pw", space=SPACE, role="USER")
    proxy = Proxy(graphd_addr)
    pool = ConnectionPool()
    config = Config()
    config.max_connection_pool_size = 2
    config.timeout = 5000
    try:
        assert pool.init([("127.0.0.1", proxy.port)], config)
        session = pool.get_session(user, "pw")
        assert session.execute(f"USE {SPACE}").is_succeeded()
        for _ in range(resets):
            proxy.reset_all()
            result = session.execute("YIELD 1")  # re-sent on a new connection, same session
            assert result.is_succeeded(), result.error_msg()
        listed = sessions_of(admin, user)
        after_resets = len(listed)
        # One login: the session listed is the one the client has held from the start.
        logins = len({row["SessionId"] for row in listed} | {session._session_id})
        proxy.refuse(True)
        proxy.reset_all()
        try:
            session.release()
        except Exception:
            pass
        pool.close()
        proxy.refuse(False)
        time.sleep(0.5)
        after_close = len(sessions_of(admin, user))
        return {"resets": resets, "logins": logins, "after_resets": after_resets,
                "after_close": after_close, "logins_after_close": 0}
    finally:
        proxy.close()


def measure_python_pool(admin, graphd_addr, resets):
    user = f"lk_sp_{os.getpid() % 100000}"
    create_user(admin, user, "pw", space=SPACE, role="USER")
    proxy = Proxy(graphd_addr)
    pool = SessionPool(user, "pw", SPACE, [("127.0.0.1", proxy.port)])
    config = SessionPoolConfig()
    config.min_size = 1
    config.max_size = 1
    config.timeout = 5000
    try:
        assert pool.init(config)
        assert pool.execute("YIELD 1").is_succeeded()
        for _ in range(resets):
            proxy.reset_all()
            try:
                pool.execute("YIELD 1")  # the broken connection's statement fails
            except Exception:
                pass
            result = pool.execute("YIELD 1")  # on a new session
            assert result.is_succeeded(), result.error_msg()
        listed = sessions_of(admin, user)
        after_resets = len(listed)
        logins = after_resets
        proxy.refuse(True)
        proxy.reset_all()
        try:
            pool.close()
        except Exception:
            pass
        proxy.refuse(False)
        time.sleep(0.5)
        after_close = len(sessions_of(admin, user))
        return {"resets": resets, "logins": logins, "after_resets": after_resets,
                "after_close": after_close, "logins_after_close": 0}
    finally:
        proxy.close()


def measure_driver(admin, graphd_addr, driver, resets, prefix):
    """A Rust client through its driver (graphsession-client: `client/examples/leak_driver.rs`;
    nebula-client with bb8-nebula: `graphd/clients/rust`): the same steps, plus the statements
    lost and, where the client counts them, its zombies."""
    user = f"{prefix}_{os.getpid() % 100000}"
    create_user(admin, user, "pw", space=SPACE, role="USER")
    proxy = Proxy(graphd_addr)
    client = NodeClient.__new__(NodeClient)
    client.events = queue.Queue()
    client.log = []
    client.process = subprocess.Popen(
        [driver, f"127.0.0.1:{proxy.port}", user, "pw", SPACE],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    threading.Thread(target=client._read, daemon=True).start()
    try:
        client.wait_count("ready", 1, 15)
        lost = 0
        for i in range(resets):
            proxy.reset_all()
            client.send("exec")
            wait_until(lambda: client.count("executed") + client.count("failed") >= i + 1, 15,
                       f"{prefix}: statement {i + 1} (log: {client.log[-8:]})")
        lost = client.count("failed")
        listed = sessions_of(admin, user)
        after_resets = len(listed)
        proxy.refuse(True)
        proxy.reset_all()
        client.send("close")
        time.sleep(0.5)  # close runs while the server is unreachable
        proxy.refuse(False)
        client.wait_count("closed", 1, 15)
        closed = next(event for event in client.log if event["event"] == "closed")
        time.sleep(0.5)
        after_close = len(sessions_of(admin, user))
        logins = closed.get("created", after_resets)
        return {"resets": resets, "logins": logins, "after_resets": after_resets,
                "after_close": after_close, "logins_after_close": 0,
                "zombies": closed.get("zombies", "not counted"), "lost": lost}
    finally:
        client.stop()
        proxy.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True, help="graphd's first node")
    parser.add_argument("--resets", type=int, default=5)
    parser.add_argument("--node-script", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "node", "leak.js"))
    parser.add_argument("--rust-driver", help="graphsession-client's leak_driver binary")
    parser.add_argument("--nebula-rust-driver",
                        help="the driver of nebula-client 0.7.3 + bb8-nebula 0.9 (graphd/clients/rust)")
    args = parser.parse_args()
    graphd_addr = ("127.0.0.1", args.port)
    admin = Conn(graphd_addr).login()
    results = {
        "@nebula-contrib/nebula-nodejs 3.0.3": measure_node(admin, graphd_addr, args.node_script,
                                                           args.resets),
        "nebula3-python 3.8.3": measure_python(admin, graphd_addr, args.resets),
        "nebula3-python 3.8.3 SessionPool": measure_python_pool(admin, graphd_addr, args.resets),
    }
    if args.nebula_rust_driver:
        results["nebula-client 0.7.3 + bb8-nebula 0.9"] = measure_driver(
            admin, graphd_addr, args.nebula_rust_driver, args.resets, "lk_nr")
    if args.rust_driver:
        results["graphsession-client 0.1.0"] = measure_driver(
            admin, graphd_addr, args.rust_driver, args.resets, "lk_rs")
    admin.signout()
    wanted = expected(args.resets)
    print(f"| client | resets | logins | sessions left while open (1 live) | "
          f"sessions left after close while disconnected | logins after close |")
    print("|---|---:|---:|---:|---:|---:|")
    differ = []
    for name, result in results.items():
        print(f"| {name} | {result['resets']} | {result['logins']} | {result['after_resets']} | "
              f"{result['after_close']} | {result['logins_after_close']} |")
        if "zombies" in result:
            print(f"|   {name}: zombies {result['zombies']}, statements lost {result['lost']} |")
            if name.startswith("graphsession") and (result["zombies"] or result["lost"]):
                differ.append(f"{name}: {result['zombies']} zombies, {result['lost']} lost")
        if (result["after_resets"], result["after_close"]) != wanted[name]:
            differ.append(f"{name}: measured {(result['after_resets'], result['after_close'])}, "
                          f"README says {wanted[name]}")
    for line in differ:
        print("differs:", line)
    print(f"leak: {len(results) - len(differ)} passed, {len(differ)} failed")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
