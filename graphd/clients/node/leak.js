// The Node.js client 3.0.3 (@nebula-contrib/nebula-nodejs) driven by leak.py through its fault
// proxy: one connection (poolSize 1) per server address, each with its own session; every client
// event is printed as a JSON line on stdout; stdin lines are commands, the protocol of every leak
// driver: "exec" runs YIELD 1 and prints {"event": "executed", "ok": true} or {"event":
// "executed", "ok": false, "code": <the server's error code, or null when none came>, "text"};
// "close" closes the client (and the process stays up, so a login after close would be seen);
// "exit" ends the process.
//
//   node leak.js HOST:PORT[,HOST:PORT...] USER PASSWORD SPACE TIMEOUT_MS
// The client is found through NODE_PATH (cargo xtask clients sets it to its node_modules).
'use strict';

const readline = require('readline');
const { createClient } = require('@nebula-contrib/nebula-nodejs');

const [servers, userName, password, space, timeoutMs] = process.argv.slice(2);
const say = (event, extra) => process.stdout.write(JSON.stringify({ event, ...extra }) + '\n');

const client = createClient({
  servers: servers.split(','),
  userName,
  password,
  space,
  poolSize: 1,
  bufferSize: 10,
  executeTimeout: Number(timeoutMs),
  pingInterval: 3600000,
});

client.on('authorized', () => say('authorized'));
client.on('ready', () => say('ready'));
client.on('connected', () => say('connected'));
client.on('close', () => say('close'));
client.on('reconnecting', ({ retryInfo }) => say('reconnecting', { attempt: retryInfo.attempt }));
client.on('error', ({ error }) => say('client_error', { message: String((error && error.message) || error) }));

readline.createInterface({ input: process.stdin }).on('line', async (line) => {
  const command = line.trim();
  if (command === 'exec') {
    try {
      await client.execute('YIELD 1 AS one');
      say('executed', { ok: true });
    } catch (error) {
      // A NebulaError carries the server's code in errno; any other error had no answer.
      const code = error && error.code === 'ERR_NEBULA' ? error.errno : null;
      say('executed', { ok: false, code, text: String((error && error.message) || error) });
    }
  } else if (command === 'close') {
    await client.close();
    say('closed');
  } else if (command === 'exit') {
    process.exit(0);
  }
});

// Whatever happens, never outlive the driver by long.
setTimeout(() => { say('timeout'); process.exit(2); }, 120000).unref();
