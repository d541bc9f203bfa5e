"""The same fault script for every client: the Node.js client 3.0.3, nebula3-python 3.8.3 (Session
and SessionPool), the Rust crates nebula-client 0.7.3 + bb8-nebula 0.9 and graphsession-client,
each through a driver process that speaks one protocol (JSON events on stdout, commands on stdin:
`python_driver.py`, `../node/leak.js`, `../rust`, `client/examples/leak_driver.rs`), against a
graphd of 3 nodes this script starts ($GRAPHD_BIN), behind TCP fault proxies (`tcp_proxy.py`).

Every phase runs a fresh driver process for a fresh user (so one phase's sessions do not count in
the next), with a timeout of TIMEOUT_MS for every statement. The driver logs in and runs `YIELD 1`
(it must succeed), then:

- resets: 5 times the proxy resets the connection (RST both ways), then a statement;
- stall: the proxy holds the bytes of the connection (no FIN, no RST) for longer than the timeout:
  a statement, then the proxy resumes (the held bytes flow on), then a statement;
- half-open: the proxy drops what the server sends on the connection, silently and for good (the
  requests still reach graphd): two statements;
- node killed: the driver has two addresses, a proxy per graphd node (the Rust crates' manager
  dials only the first); the node its connection goes through is crashed by graphd as kill -9
  would crash a process of its own (`--control_stdin`: connections closed with nothing written,
  memory dropped, port closed; the session stays in meta, as NebulaGraph's does). Two
  statements; the node comes back as a new incarnation (a client that reconnects by itself is
  let to log in on it); a statement;
- admin kill: from a separate admin connection, KILL SESSION of each of the user's sessions while
  the client is idle, until SHOW SESSIONS lists none and the client's node (1) holds none (the kill
  has landed there); two statements;
- close: the proxy resets the connection and refuses new ones; the application closes the client
  while it is disconnected; the proxy accepts again for 2.5 s (a sign-out kept for later, or a
  login after close, would be seen).

Counted per phase, on the server (SHOW SESSIONS as root) and from what each statement returned to
the application:
- left: the user's sessions that no live holder has: those listed beyond the ones the open client
  holds (one; the Node.js client one per server address, one connection each), every one after
  close;
- zombies: statements answered -1002 (the session does not exist) to the application: the client
  used a session the server had ended, without recovering;
- lost: statements that neither succeeded nor got an answer from the server (a transport error, a
  timeout, or nothing within 3 x TIMEOUT_MS + 3 s).

    GRAPHD_BIN=target/release/graphd python leak.py [--node-script PATH] [--rust-driver PATH]
        [--nebula-rust-driver PATH] [--logs] [--json PATH]

Prints the table of the README; exits non-zero if graphsession-client has any non-zero count, if a
count differs from EXPECTED (what the README states), or if a client could not be driven."""

import argparse
import json
import os
import subprocess
import sys
import threading
import time

from client import Conn, create_user, sessions_of, wait_until
from harness import Graphd
from tcp_proxy import Proxy

SPACE = "leak_space"
PASSWORD = "pw"
TIMEOUT_MS = 2000
RESETS = 5
SESSION_INVALID = -1002
PHASES = ("resets", "stall", "half-open", "node killed", "admin kill", "close")
COUNTS = ("left", "zombies", "lost")
HERE = os.path.dirname(os.path.abspath(__file__))

OURS = "graphsession-client 0.1.0"

# What the README states: per client, per phase, (left, zombies, lost), or a list of the outcomes
# a client's own race allows (each explained).
EXPECTED = {
    # One session per connection, a login per reconnect, the old session never signed out; a
    # statement on a stalled or half-open link ends in the client's own timeout (9996, no answer);
    # after a node dies, the next statement goes to the next connection of its round robin even
    # while that one is reconnecting (then it waits out its timeout: lost; measured in most runs),
    # or to the live one; once the node is back, that connection logs in again and the session
    # the dead node held (kept in meta, as NebulaGraph keeps it) is never signed out;
    # it never replaces a session the server ended; close while disconnected signs nothing out,
    # and its reconnect loop logs in once more after close.
    "@nebula-contrib/nebula-nodejs 3.0.3": {
        "resets": (5, 0, 0), "stall": (0, 0, 1), "half-open": (0, 0, 2),
        "node killed": [(1, 0, 1), (1, 0, 0)], "admin kill": (0, 2, 0), "close": (2, 0, 0)},
    # The same session id re-sent on a new connection after a broken one (not after a timeout:
    # that statement is lost, the next succeeds); never replaces a session the
    # server ended; its sign-out at close goes to a dead socket.
    "nebula3-python 3.8.3": {
        "resets": (0, 0, 0), "stall": (0, 0, 1), "half-open": (0, 0, 1),
        "node killed": (0, 0, 0), "admin kill": (0, 2, 0), "close": (1, 0, 0)},
    # A statement whose connection broke fails, and the session is dropped without a sign-out
    # (the pool makes a new one); -1002 once, then a new session; close on dead sockets.
    "nebula3-python 3.8.3 SessionPool": {
        "resets": (2, 0, 3), "stall": (0, 0, 1), "half-open": (0, 0, 1),
        "node killed": (1, 0, 1), "admin kill": (0, 1, 0), "close": (1, 0, 0)},
    # A reset socket stays in the pool until a write fails with EPIPE, then a new login without
    # signing the old session out; its read timeout does not end a stalled or half-open read
    # (no answer within the bound); one address only, so no failover, and a connection its
    # dead node closed (FIN, not a reset) is never replaced: every statement after the kill is
    # lost, even once the node is back; -1002 once, then a new session; dropping the pool signs
    # nothing out.
    "nebula-client 0.7.3 + bb8-nebula 0.9": {
        "resets": (1, 0, 4), "stall": (0, 0, 1), "half-open": (0, 0, 2),
        "node killed": (0, 0, 3), "admin kill": (0, 1, 0), "close": (1, 0, 0)},
    OURS: {phase: (0, 0, 0) for phase in PHASES},
}


class Driver:
    """One driver process: its JSON events, read on a thread; commands on its stdin."""

    def __init__(self, argv, env=None):
        self.log = []
        self.lock = threading.Lock()
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env=env)
        threading.Thread(target=self._read, daemon=True).start()
        self.issued = 0
        self.outcomes = []  # per statement: its answer, or None if none came within the bound

    def _read(self):
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "output", "text": line.rstrip()}
            with self.lock:
                self.log.append(event)

    def events(self, name):
        with self.lock:
            return [event for event in self.log if event.get("event") == name]

    def wait_count(self, name, count, seconds):
        wait_until(lambda: len(self.events(name)) >= count or self.events("error"), seconds,
                   f"{count} '{name}' events (log: {self.log[-8:]})")
        if self.events("error"):
            raise RuntimeError(f"driver error: {self.events('error')}")

    def send(self, command):
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def execute(self):
        """Issues one statement and waits for its answer, at most 3 x the timeout + 3 s. The
        drivers answer their statements in order: the n-th answer is the n-th statement's (an
        answer after the bound is not counted as its statement's)."""
        self.send("exec")
        self.issued += 1
        bound = 3 * TIMEOUT_MS / 1000 + 3
        try:
            self.wait_count("executed", self.issued, bound)
            self.outcomes.append(self.events("executed")[self.issued - 1])
        except AssertionError:
            self.outcomes.append(None)

    def stop(self):
        if self.process.poll() is None:
            try:
                self.send("exit")
                self.process.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(5)


class Spec:
    """How to start one client's driver, and what it holds while open."""

    def __init__(self, name, prefix, argv, env=None, per_address=False, reconnects=False):
        self.name, self.prefix, self.argv, self.env = name, prefix, argv, env
        self.per_address = per_address  # one session per server address (the Node.js client)
        self.reconnects = reconnects  # reconnects by itself, announcing "ready" (Node.js)

    def held(self, addresses):
        return addresses if self.per_address else 1


def phase_resets(ctx, spec, driver, proxies):
    for i in range(RESETS):
        proxies[0].reset_all()
        if spec.reconnects:
            driver.wait_count("ready", i + 2, 15)
        driver.execute()


def phase_stall(ctx, spec, driver, proxies):
    proxies[0].stall()
    driver.execute()
    proxies[0].resume()
    driver.execute()


def phase_half_open(ctx, spec, driver, proxies):
    proxies[0].half_open()
    driver.execute()
    driver.execute()


def phase_node_killed(ctx, spec, driver, proxies):
    # A session's space reaches meta within --session_reclaim_interval_secs (1 s), as in
    # NebulaGraph; before that, another node takes the session over without it (-1008 to a
    # USER). Waiting makes the phase about the kill, not about that race.
    time.sleep(2.5)
    victim = 0 if proxies[0].live() or not proxies[1].live() else 1
    reconnecting = len(driver.events("reconnecting"))
    ready = len(driver.events("ready"))
    # graphd crashes the node as kill -9 would a process of its own: its connections closed
    # with nothing written, its memory dropped, its port closed (the proxy then refuses).
    ctx["graphd"].control(f"crash {victim + 1}")
    if spec.reconnects:  # it noticed (else the race with its reading the close decides)
        driver.wait_count("reconnecting", reconnecting + 1, 10)
    driver.execute()
    driver.execute()
    ctx["graphd"].control(f"restart {victim + 1}")
    if spec.reconnects:  # its login on the node's new incarnation, which else races the count
        driver.wait_count("ready", ready + 1, 15)
    driver.execute()


def phase_admin_kill(ctx, spec, driver, proxies):
    admin, user = ctx["admin"], ctx["user"]
    for row in sessions_of(admin, user):
        admin.ok(f"KILL SESSION {row['SessionId']}")
    wait_until(lambda: not sessions_of(admin, user), 10, f"{user}'s sessions killed")
    # The admin is on node 3; the client's node (1, behind the proxy) learns of the kill from
    # meta within the sync bound. The statements come once the kill has landed there.
    local = Conn(ctx["graphd"].addrs[0]).login()
    try:
        wait_until(lambda: not [row for row in local.ok("SHOW LOCAL SESSIONS").dicts()
                                if row["UserName"] == user],
                   10, f"{user}'s sessions ended on node 1")
    finally:
        local.signout()
        local.close()
    driver.execute()
    driver.execute()


def phase_close(ctx, spec, driver, proxies):
    reconnecting = len(driver.events("reconnecting"))
    proxies[0].refuse(True)
    proxies[0].reset_all()
    if spec.reconnects:
        driver.wait_count("reconnecting", reconnecting + 1, 10)
    driver.send("close")
    try:  # a client that waits for its sign-out to be delivered has not returned yet
        driver.wait_count("closed", 1, 1)
    except AssertionError:
        pass
    proxies[0].refuse(False)
    driver.wait_count("closed", 1, 15)
    time.sleep(2.5)  # the Node.js client's reconnect loop retries every second at most
    return True


PHASE_STEPS = {
    "resets": phase_resets, "stall": phase_stall, "half-open": phase_half_open,
    "node killed": phase_node_killed, "admin kill": phase_admin_kill, "close": phase_close,
}


def run_phase(graphd, admin, spec, phase):
    """One phase for one client: (left, zombies, lost)."""
    user = f"lk_{spec.prefix}_{PHASES.index(phase)}"
    create_user(admin, user, PASSWORD, space=SPACE, role="USER")
    proxies = [Proxy(graphd.addrs[0]), Proxy(graphd.addrs[1])]
    used = proxies if phase == "node killed" else proxies[:1]
    addresses = ",".join(f"127.0.0.1:{proxy.port}" for proxy in used)
    driver = Driver(spec.argv(addresses, user), spec.env)
    try:
        driver.wait_count("ready", spec.held(len(used)) if spec.reconnects else 1, 15)
        driver.execute()
        if not (driver.outcomes[0] or {}).get("ok"):
            raise RuntimeError(f"{spec.name}: the first statement failed: {driver.log[-8:]}")
        context = {"admin": admin, "user": user, "graphd": graphd}
        closed = PHASE_STEPS[phase](context, spec, driver, proxies)
        listed = len(sessions_of(admin, user))
        left = max(0, listed - (0 if closed else spec.held(len(used))))
        kinds = [kind(outcome) for outcome in driver.outcomes[1:]]
        return (left, kinds.count("zombie"), kinds.count("lost")), driver.log
    finally:
        driver.stop()
        for proxy in proxies:
            proxy.close()


def kind(outcome):
    """ok; zombie (-1002); error (another code from the server: NebulaGraph's are negative); lost
    (no answer within the bound, a transport error, or a code the client made up, as the
    Node.js client's 9996 for its own timeout)."""
    if outcome is None:
        return "lost"
    if outcome.get("ok"):
        return "ok"
    code = outcome.get("code")
    if code == SESSION_INVALID:
        return "zombie"
    return "error" if isinstance(code, int) and code < 0 else "lost"


def specs(args):
    timeout = str(TIMEOUT_MS)
    python = sys.executable
    listed = [
        Spec("@nebula-contrib/nebula-nodejs 3.0.3", "node",
             lambda addrs, user: ["node", args.node_script, addrs, user, PASSWORD, SPACE, timeout],
             per_address=True, reconnects=True),
        Spec("nebula3-python 3.8.3", "py",
             lambda addrs, user: [python, os.path.join(HERE, "python_driver.py"), "session",
                                  addrs, user, PASSWORD, SPACE, timeout]),
        Spec("nebula3-python 3.8.3 SessionPool", "sp",
             lambda addrs, user: [python, os.path.join(HERE, "python_driver.py"), "pool",
                                  addrs, user, PASSWORD, SPACE, timeout]),
    ]
    if args.nebula_rust_driver:
        listed.append(Spec("nebula-client 0.7.3 + bb8-nebula 0.9", "nr",
                           lambda addrs, user: [args.nebula_rust_driver, addrs, user, PASSWORD,
                                                SPACE, timeout]))
    if args.rust_driver:
        listed.append(Spec(OURS, "rs", lambda addrs, user: [args.rust_driver, addrs, user,
                                                            PASSWORD, SPACE, timeout]))
    return listed


def allowed(expected):
    """The outcomes an EXPECTED entry allows: one tuple, or a list of them."""
    return expected if isinstance(expected, list) else [expected]


def table(results, phases=PHASES):
    header = ["client"] + [f"{phase}: {count}" for phase in phases for count in COUNTS]
    lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
    for name, counts in results.items():
        cells = [str(value) for phase in phases for value in counts[phase]]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--node-script", default=os.path.join(HERE, "..", "node", "leak.js"))
    parser.add_argument("--rust-driver", help="graphsession-client's leak_driver binary")
    parser.add_argument("--nebula-rust-driver",
                        help="the driver of nebula-client 0.7.3 + bb8-nebula 0.9 (graphd/clients/rust)")
    parser.add_argument("--logs", action="store_true", help="print every driver's events")
    parser.add_argument("--json", help="also write the counts there: {client: {phase: {count: n}}}")
    parser.add_argument("--only", help="debugging: only the clients whose name contains this")
    parser.add_argument("--phase", action="append", choices=PHASES,
                        help="debugging: only this phase (repeatable)")
    args = parser.parse_args()
    started = time.monotonic()
    phases = args.phase or list(PHASES)
    graphd = Graphd(nodes=3, log_name="leak", control=True,
                    flags=("--enable_authorize=true", "--session_reclaim_interval_secs=1"))
    results, differ = {}, []
    try:
        # The admin uses node 3, which no proxy fronts and no phase crashes.
        admin = Conn(graphd.addrs[2]).login()
        for spec in specs(args):
            if args.only and args.only not in spec.name:
                continue
            results[spec.name] = {}
            for phase in phases:
                counts, log = run_phase(graphd, admin, spec, phase)
                results[spec.name][phase] = counts
                if args.logs:
                    print(f"{spec.name}, {phase}: {counts}: {log}", flush=True)
        admin.signout()
    finally:
        graphd.stop()
    print(table(results, phases))
    if args.json:
        with open(args.json, "w") as out:
            json.dump({name: {phase: dict(zip(COUNTS, counts[phase])) for phase in phases}
                       for name, counts in results.items()}, out, indent=1)
    for name, counts in results.items():
        for phase in phases:
            if name == OURS and any(counts[phase]):
                differ.append(f"{name}, {phase}: {dict(zip(COUNTS, counts[phase]))}, not zero")
            elif counts[phase] not in allowed(EXPECTED[name][phase]):
                differ.append(f"{name}, {phase}: measured {counts[phase]}, "
                              f"README says {EXPECTED[name][phase]}")
    for line in differ:
        print("differs:", line)
    print(f"leak: {len(results)} clients x {len(phases)} phases in "
          f"{time.monotonic() - started:.0f} s, {len(differ)} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
