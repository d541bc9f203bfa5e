"""Small helpers over nebula3-python for the suites: a raw connection to one node (so a test
chooses the node and sees every code), results as plain Python values, waiting with a deadline."""

import time

from nebula3.common.ttypes import ErrorCode
from nebula3.data.ResultSet import ResultSet
from nebula3.gclient.net import Connection

from harness import ROOT_PASSWORD, ROOT_USER

TIMEOUT_MS = 10_000


class Reply:
    """An ExecutionResponse with its rows as Python values."""

    def __init__(self, response):
        self.response = response
        self.code = response.error_code
        message = response.error_msg
        self.message = message.decode() if isinstance(message, bytes) else (message or "")
        self.result = ResultSet(response, 0)
        has_data = self.code == 0 and response.data is not None
        self.columns = self.result.keys() if has_data else []

    def ok(self):
        assert self.code == ErrorCode.SUCCEEDED, f"{self.code}: {self.message}"
        return self

    def wrappers(self):
        """Rows of nebula3's ValueWrapper (to check value types)."""
        if self.code != 0 or self.response.data is None:
            return []
        return [list(row.values()) for row in self.result]

    def rows(self):
        return [[plain(value) for value in row] for row in self.wrappers()]

    def dicts(self):
        return [dict(zip(self.columns, row)) for row in self.rows()]


def plain(wrapper):
    """A ValueWrapper as a Python value (datetimes as their text)."""
    if wrapper.is_null() or wrapper.is_empty():
        return None
    if wrapper.is_bool():
        return wrapper.as_bool()
    if wrapper.is_int():
        return wrapper.as_int()
    if wrapper.is_double():
        return wrapper.as_double()
    if wrapper.is_string():
        return wrapper.as_string()
    if wrapper.is_list():
        return [plain(item) for item in wrapper.as_list()]
    return str(wrapper)


class Conn:
    """One nebula3 Connection to one node, with the session it authenticated (if any)."""

    def __init__(self, addr, timeout_ms=TIMEOUT_MS):
        self.addr = addr
        self.connection = Connection()
        self.connection.open(addr[0], addr[1], timeout_ms)
        self.session_id = None

    def authenticate(self, user=ROOT_USER, password=ROOT_PASSWORD):
        """The raw AuthResponse (error_code, error_msg, session_id): codes included."""
        response = self.connection._connection.authenticate(user, password)
        if response.error_code == 0:
            self.session_id = response.session_id
        return response

    def login(self, user=ROOT_USER, password=ROOT_PASSWORD):
        response = self.authenticate(user, password)
        message = response.error_msg
        assert response.error_code == 0, f"login {user}: {response.error_code} {message}"
        return self

    def run(self, statement, session_id=None):
        sid = self.session_id if session_id is None else session_id
        return Reply(self.connection.execute(sid, statement))

    def ok(self, statement):
        return self.run(statement).ok()

    def signout(self):
        self.connection.signout(self.session_id)

    def close(self):
        self.connection.close()


class Cluster:
    """graphd's nodes, and how long a change takes to reach every node (one sync round)."""

    def __init__(self, addrs, sync_secs):
        self.addrs = addrs
        self.sync_secs = sync_secs

    def addr_text(self, node):
        host, port = self.addrs[node]
        return f"{host}:{port}"

    def connect(self, node=0):
        return Conn(self.addrs[node])

    def login(self, node=0, user=ROOT_USER, password=ROOT_PASSWORD):
        return self.connect(node).login(user, password)

    def bound(self):
        """The documented staleness bound: one sync interval plus two network delays, with room
        for a loaded 2-core machine."""
        return self.sync_secs + 1.5


def wait_until(condition, seconds, what, step=0.05):
    """Calls `condition` until it returns a truthy value; fails after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(step)


def sessions_of(conn, user):
    """SHOW SESSIONS rows of `user`, as dicts."""
    return [row for row in conn.ok("SHOW SESSIONS").dicts() if row["UserName"] == user]


def create_user(conn, user, password, space=None, role=None):
    conn.ok(f"CREATE USER IF NOT EXISTS {user} WITH PASSWORD \"{password}\"")
    if space is not None:
        conn.ok(f"CREATE SPACE IF NOT EXISTS {space}(vid_type=INT64)")
        if role is not None:
            conn.ok(f"GRANT ROLE {role} ON {space} TO {user}")
