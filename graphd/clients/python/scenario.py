r"""A small data format for NebulaGraph's acceptance scenarios (its tests/tck features), and the
runner that plays them through nebula3-python against graphd.

A scenario is a name, the upstream feature and scenario it transcribes, a list of steps, and
`fails`: None when graphd passes it, else a `Fails(why, evidence)`: why it does not (a bug of
ours, or a documented deliberate difference) and a regular expression the failure's message must
match, so a scenario cannot fail for another reason unnoticed. Steps:

- `Run(stmt, expect, as_=name)`: run `stmt` on session `name` (default: "root", root on node 0)
  and check `expect`: `OK`, `Error(kind, message_prefix)` (the upstream check: ExecutionError is
  -1005 and its message starts with the prefix; any other kind's message starts with
  "kind: prefix"; we also check the code of the kind), or `Rows(columns, rows, mode)` with mode
  "contain" (each expected row among the result's), "any order" or "in order" (exactly these
  rows), where a cell is a value or `Re(pattern)` matched against the cell's text
  (`Re(r"\d+")` is upstream's `/\d+/`). Cells may use `{addr0}`, `{addr1}`, `{addr2}` (a node's
  host:port) like upstream's `${cluster.graphd_processes[i].tcp_port}`.
- `Login(name, node, user, password)`: a new session named `name` on `node`.
- `As(user, password, stmt, expect)`: upstream's "executing query with user U and password P":
  a fresh session on node 0 runs `stmt`, then signs out.
- `Wait(seconds)`: upstream's waits are for metad's heartbeat; graphd's nodes sync every second,
  so a wait is capped at the sync bound (`Runner.max_wait`).
- `Background(name, stmt, as_)` starts `stmt` on session `as_` in a thread (no other step may use
  that session until the Join): upstream's slow-query scenarios run one in a parallel scenario;
  `Join(name, expect)` waits for it and checks its reply.
- `KillMatching(contains, expect, as_, session=None, plan=None)`: the pipe
  `SHOW QUERIES | YIELD ... WHERE $-.Query CONTAINS c | KILL QUERY(session=$-.sid, plan=$-.eid)`
  done by the client (graphd has no pipes): SHOW QUERIES, rows whose Query contains `contains`
  and that have run longer than `longer_than_us` (upstream's 1 s),
  KILL QUERY for each (with `session`/`plan` overriding the row's, as upstream does with
  constants; `show_as` reads another session's SHOW QUERIES, on another node if it is there);
  `expect` checks the last KILL's reply (and, for `Rows`, the filtered rows).
"""

import re
import threading
import time
from dataclasses import dataclass, field

from client import Conn

CODES = {
    "ExecutionError": -1005,
    "SyntaxError": -1004,
    "SemanticError": -1009,
    "PermissionError": -1008,
}


class _Ok:
    def __repr__(self):
        return "OK"


OK = _Ok()


@dataclass
class Error:
    kind: str
    message: str = ""


@dataclass
class Re:
    pattern: str


@dataclass
class Rows:
    columns: list
    rows: list
    mode: str = "contain"


@dataclass
class Run:
    stmt: str
    expect: object = OK
    as_: str = "root"


@dataclass
class Login:
    name: str
    node: int = 0
    user: str = "root"
    password: str = "nebula"


@dataclass
class As:
    user: str
    password: str
    stmt: str
    expect: object = OK


@dataclass
class Wait:
    seconds: float


@dataclass
class Background:
    name: str
    stmt: str
    as_: str = "root"


@dataclass
class Join:
    name: str
    expect: object = OK


@dataclass
class KillMatching:
    contains: str
    expect: object = OK
    as_: str = "root"
    session: object = None
    plan: object = None
    show_as: object = None  # whose SHOW QUERIES to read (default: as_)
    longer_than_us: int = 1_000_000  # upstream's `WHERE $-.DurationInUSec > 1000000`


@dataclass
class Fails:
    why: str
    evidence: str  # a regular expression searched in the failure's message


@dataclass
class Scenario:
    name: str
    upstream: str
    steps: list
    fails: object = None  # None, or Fails
    background: list = field(default_factory=list)  # upstream's Background steps


def check(reply, expect, cluster, where):
    """Checks `reply` against `expect`; raises AssertionError naming `where`."""
    if expect is OK:
        assert reply.code == 0, f"{where}: expected success, got {reply.code} {reply.message!r}"
        return
    if isinstance(expect, Error):
        assert reply.code != 0, f"{where}: expected {expect.kind}, got success"
        if reply.code == CODES["ExecutionError"]:
            assert expect.kind == "ExecutionError", (
                f"{where}: expected {expect.kind}, got -1005 {reply.message!r}")
            wanted = expect.message
        else:
            wanted = f"{expect.kind}: {expect.message}"
        assert reply.message.startswith(wanted), (
            f"{where}: expected message starting {wanted!r}, got {reply.code} {reply.message!r}")
        code = CODES.get(expect.kind)
        assert code is None or reply.code == code, (
            f"{where}: expected code {code} for {expect.kind}, got {reply.code}")
        return
    if isinstance(expect, Rows):
        assert reply.code == 0, f"{where}: expected rows, got {reply.code} {reply.message!r}"
        check_rows(reply.columns, reply.rows(), expect, cluster, where)
        return
    raise TypeError(f"unknown expectation {expect!r}")


def check_rows(columns, rows, expect, cluster, where):
    assert list(columns) == list(expect.columns), f"{where}: columns {columns} != {expect.columns}"
    fill = {f"addr{i}": cluster.addr_text(i) for i in range(len(cluster.addrs))}
    wanted = [[cell_pattern(cell, fill) for cell in row] for row in expect.rows]
    if expect.mode == "contain":
        for want in wanted:
            assert any(row_matches(row, want) for row in rows), (
                f"{where}: no row matches {want} in {rows}")
    elif expect.mode == "in order":
        assert len(rows) == len(wanted) and all(
            row_matches(row, want) for row, want in zip(rows, wanted)
        ), f"{where}: rows {rows} != {wanted} in order"
    elif expect.mode == "any order":
        left = list(rows)
        for want in wanted:
            hit = next((row for row in left if row_matches(row, want)), None)
            assert hit is not None, f"{where}: no row matches {want} in {rows}"
            left.remove(hit)
        assert not left, f"{where}: unexpected rows {left}"
    else:
        raise ValueError(expect.mode)


def cell_pattern(cell, fill):
    if isinstance(cell, Re):
        return Re(cell.pattern)
    if isinstance(cell, str):
        return cell.format(**fill)
    return cell


def row_matches(row, want):
    if len(row) != len(want):
        return False
    for value, cell in zip(row, want):
        if isinstance(cell, Re):
            text = value if isinstance(value, str) else str(value)
            if not re.fullmatch(cell.pattern, text):
                return False
        elif value != cell:
            return False
    return True


class Runner:
    """Plays scenarios against a cluster; every session it opened is signed out at the end and
    every background query still running is killed (without pipes) so it cannot outlive the run."""

    max_wait = 1.5

    def __init__(self, cluster):
        self.cluster = cluster
        self.sessions = {}
        self.logins = {}
        self.threads = {}

    def session(self, name):
        if name not in self.sessions:
            if name != "root":
                raise KeyError(f"no session {name!r}: add a Login step")
            self.login(Login("root"))
        return self.sessions[name]

    def login(self, step):
        conn = Conn(self.cluster.addrs[step.node], timeout_ms=60_000)
        conn.login(step.user, step.password)
        self.sessions[step.name] = conn
        self.logins[step.name] = step
        return conn

    def play(self, scenario):
        try:
            for index, step in enumerate(scenario.background + scenario.steps):
                self.step(step, f"{scenario.name} step {index + 1} ({describe(step)})")
        finally:
            self.clean_up()

    def step(self, step, where):
        if isinstance(step, Run):
            check(self.session(step.as_).run(step.stmt), step.expect, self.cluster, where)
        elif isinstance(step, Login):
            self.login(step)
        elif isinstance(step, As):
            conn = Conn(self.cluster.addrs[0]).login(step.user, step.password)
            try:
                check(conn.run(step.stmt), step.expect, self.cluster, where)
            finally:
                conn.signout()
                conn.close()
        elif isinstance(step, Wait):
            time.sleep(min(step.seconds, self.max_wait))
        elif isinstance(step, Background):
            self.background(step)
        elif isinstance(step, Join):
            thread, outcome = self.threads.pop(step.name)
            thread.join(30)
            assert not thread.is_alive(), f"{where}: the background query still runs"
            if "error" in outcome:
                raise AssertionError(f"{where}: the background query raised {outcome['error']}")
            check(outcome["reply"], step.expect, self.cluster, where)
        elif isinstance(step, KillMatching):
            self.kill_matching(step, where)
        else:
            raise TypeError(f"unknown step {step!r}")

    def background(self, step):
        conn = self.session(step.as_)
        node = self.logins[step.as_].node if step.as_ in self.logins else 0
        outcome = {"conn": conn}

        def run():
            try:
                outcome["reply"] = conn.run(step.stmt)
            except Exception as error:  # reported by Join
                outcome["error"] = repr(error)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.threads[step.name] = (thread, outcome)
        # Until SHOW QUERIES on its node lists it, a KILL could miss it.
        viewer = Conn(self.cluster.addrs[node]).login()
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                rows = viewer.ok("SHOW QUERIES").dicts()
                if any(r["SessionID"] == conn.session_id for r in rows):
                    return
                if "reply" in outcome or "error" in outcome:
                    break
                time.sleep(0.05)
            raise AssertionError(f"background {step.name} never showed in SHOW QUERIES: {outcome}")
        finally:
            viewer.signout()
            viewer.close()

    def kill_matching(self, step, where):
        conn = self.session(step.as_)
        shown = self.session(step.show_as or step.as_).ok("SHOW QUERIES")
        rows = [r for r in shown.dicts() if step.contains in (r.get("Query") or "")
                and r["DurationInUSec"] > step.longer_than_us]
        picked = [[r["SessionID"], r["ExecutionPlanID"], r["DurationInUSec"]] for r in rows]
        if isinstance(step.expect, Rows):
            check_rows(["sid", "eid", "dur"], picked, step.expect, self.cluster, where)
            return
        assert picked, f"{where}: no running query contains {step.contains!r}"
        reply = None
        for sid, eid, _ in picked:
            sid = step.session if step.session is not None else sid
            eid = step.plan if step.plan is not None else eid
            reply = conn.run(f"KILL QUERY(session={sid}, plan={eid})")
            if reply.code != 0:
                break
        check(reply, step.expect, self.cluster, where)

    def clean_up(self):
        # Kill whatever background query a failed scenario left running, then sign out.
        if self.threads:
            for node in range(len(self.cluster.addrs)):
                killer = Conn(self.cluster.addrs[node]).login()
                for _, outcome in self.threads.values():
                    sid = outcome["conn"].session_id
                    for row in killer.ok("SHOW QUERIES").dicts():
                        if row["SessionID"] == sid:
                            killer.run(f"KILL QUERY(session={sid}, plan={row['ExecutionPlanID']})")
                killer.signout()
                killer.close()
            for thread, _ in self.threads.values():
                thread.join(10)
            self.threads.clear()
        for conn in self.sessions.values():
            try:
                conn.signout()
                conn.close()
            except Exception:
                pass
        self.sessions.clear()


def describe(step):
    text = repr(step)
    return text if len(text) < 160 else text[:157] + "..."

