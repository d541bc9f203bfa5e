"""leak.py's driver of nebula3-python 3.8.3, speaking the protocol of every leak driver (leak.js,
graphd/clients/rust, client/examples/leak_driver.rs): one JSON line per event on stdout, one
command per line on stdin.

    python python_driver.py session|pool HOST:PORT[,HOST:PORT...] USER PASSWORD SPACE TIMEOUT_MS

`session`: a ConnectionPool (at most 2 connections) and one Session from `get_session`, which
USEs the space; `pool`: a SessionPool of exactly one session. Commands:
- `exec`: runs `YIELD 1`, prints `{"event": "executed", "ok": true}` or `{"event": "executed",
  "ok": false, "code": <the server's error code, or null when none came>, "text": ...}`;
- `close`: session: `Session.release()` then `ConnectionPool.close()`; pool: `SessionPool.close()`;
  prints `{"event": "closed"}`;
- `exit` (or end of input): exits."""

import json
import sys

from nebula3.Config import Config, SessionPoolConfig
from nebula3.gclient.net import ConnectionPool
from nebula3.gclient.net.SessionPool import SessionPool


def say(event, **extra):
    print(json.dumps({"event": event, **extra}), flush=True)


def addresses(text):
    pairs = []
    for address in text.split(","):
        host, port = address.rsplit(":", 1)
        pairs.append((host, int(port)))
    return pairs


class SessionDriver:
    def __init__(self, addrs, user, password, space, timeout_ms):
        config = Config()
        config.max_connection_pool_size = 2
        config.timeout = timeout_ms
        self.pool = ConnectionPool()
        if not self.pool.init(addrs, config):
            raise RuntimeError("ConnectionPool.init failed")
        self.session = self.pool.get_session(user, password)
        result = self.session.execute(f"USE {space}")
        if not result.is_succeeded():
            raise RuntimeError(result.error_msg())

    def execute(self, statement):
        return self.session.execute(statement)

    def close(self):
        try:
            self.session.release()
        finally:
            self.pool.close()


class PoolDriver:
    def __init__(self, addrs, user, password, space, timeout_ms):
        config = SessionPoolConfig()
        config.min_size = 1
        config.max_size = 1
        config.timeout = timeout_ms
        self.pool = SessionPool(user, password, space, addrs)
        if not self.pool.init(config):
            raise RuntimeError("SessionPool.init failed")

    def execute(self, statement):
        return self.pool.execute(statement)

    def close(self):
        self.pool.close()


def main():
    kind, addrs, user, password, space, timeout_ms = sys.argv[1:7]
    driver_type = SessionDriver if kind == "session" else PoolDriver
    try:
        driver = driver_type(addresses(addrs), user, password, space, int(timeout_ms))
    except Exception as error:  # the client's own exceptions are not typed
        say("error", text=str(error))
        return
    say("ready")
    for line in sys.stdin:
        command = line.strip()
        if command == "exec":
            try:
                result = driver.execute("YIELD 1")
                if result.is_succeeded():
                    say("executed", ok=True)
                else:
                    say("executed", ok=False, code=result.error_code(), text=result.error_msg())
            except Exception as error:
                say("executed", ok=False, code=None, text=f"{type(error).__name__}: {error}")
        elif command == "close":
            try:
                driver.close()
            except Exception as error:
                say("output", text=f"close: {type(error).__name__}: {error}")
            say("closed")
        elif command == "exit":
            return


if __name__ == "__main__":
    main()
