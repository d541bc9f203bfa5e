// The Node.js client 3.0.3 (@nebula-contrib/nebula-nodejs) driven by leak.py through its fault
// proxy: one connection (poolSize 1) to the proxy; every client event is printed as a JSON line
// on stdout; stdin lines are commands: "exec" runs YIELD 1, "close" closes the client (and the
// process stays up a while, so a login after close would be seen), "exit" ends the process.
//
//   node leak.js HOST:PORT USER PASSWORD SPACE
// The client is found through NODE_PATH (cargo xtask clients sets it to its node_modules).
'use strict';

const readline = require('readline');
const { createClient } = require('@nebula-contrib/nebula-nodejs');

const [server, userName, password, space] = process.argv.slice(2);
const say = (event, extra) => process.stdout.write(JSON.stringify({ event, ...extra }) + '\n');

const client = createClient({
  servers: [server],
  userName,
  password,
  space,
  poolSize: 1,
  bufferSize: 10,
  executeTimeout: 5000,
  pingInterval: 3600000,
});

client.on('authorized', () => say('authorized'));
client.on('ready', () => say('ready'));
client.on('connected', () => say('connected'));
client.on('close', () => say('close'));
client.on('reconnecting', ({ retryInfo }) => say('reconnecting', { attempt: retryInfo.attempt }));
client.on('error', ({ error }) => say('error', { message: String((error && error.message) || error) }));

readline.createInterface({ input: process.stdin }).on('line', async (line) => {
  const command = line.trim();
  if (command === 'exec') {
    try {
      const result = await client.execute('YIELD 1 AS one');
      say('executed', { ok: true, result: JSON.stringify(result.data) });
    } catch (error) {
      say('executed', { ok: false, message: String(error.message || error) });
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
