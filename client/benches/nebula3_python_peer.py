"""nebula3-python's side of the client bench (`client/benches/client.rs`), run in the same
process tree against the same graphd: reads "MODE N" lines on stdin, runs N `YIELD 1`s and
answers with the nanoseconds they took.

    python nebula3_python_peer.py HOST PORT

MODE is `session` (Session.execute on one held session) or `pool` (SessionPool.execute: a
checkout, the execute and the return)."""

import sys
import time

from nebula3.Config import Config, SessionPoolConfig
from nebula3.gclient.net import ConnectionPool
from nebula3.gclient.net.SessionPool import SessionPool


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    connections = ConnectionPool()
    assert connections.init([(host, port)], Config())
    session = connections.get_session("root", "nebula")
    session.execute("CREATE SPACE bench")  # a SessionPool needs a space; exists on a rerun
    pool = SessionPool("root", "nebula", "bench", [(host, port)])
    pool_config = SessionPoolConfig()
    pool_config.min_size = 1
    pool_config.max_size = 4
    assert pool.init(pool_config)
    run = {"session": session.execute, "pool": pool.execute}
    print("ready", flush=True)
    for line in sys.stdin:
        mode, count = line.split()
        execute = run[mode]
        started = time.perf_counter_ns()
        for _ in range(int(count)):
            result = execute("YIELD 1")
            assert result.is_succeeded(), result.error_msg()
        print(time.perf_counter_ns() - started, flush=True)
    session.release()
    pool.close()
    connections.close()


if __name__ == "__main__":
    main()
