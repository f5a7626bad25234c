// node-redis (the npm package `redis`) with its defaults against the worker or
// the stash; the script and the output are common.js's. argv: MODULE
// worker|stash SOCKET default|2|3, MODULE being the folder under node_modules
// ("redis", or "redis-v5" for the previous major), protocol 2 or 3 its `RESP`
// option. Pipelined is node-redis's own way: several sendCommand at once
// (Promise.all), which it writes together.
'use strict';
const { load, run } = require('./common.js');

run(async (a) => {
  const { createClient } = load(a.module);
  const options = { socket: { path: a.socket } };
  if (a.protocol !== 'default') options.RESP = Number(a.protocol);
  const client = createClient(options);
  // node-redis reconnects by itself; an 'error' with no listener would end the process.
  client.on('error', (e) => process.stderr.write(`node-redis error: ${e.message}\n`));
  await client.connect();
  const settle = (ps) => Promise.all(ps.map((p) => p.catch((e) => e)));
  return {
    plain: (cmd) => client.sendCommand(cmd),
    pipeline: (cmds) => settle(cmds.map((cmd) => client.sendCommand(cmd))),
    multi: async (cmds) => {
      const m = client.multi();
      for (const cmd of cmds) m.addCommand(cmd);
      return m.exec();
    },
    set: (k, v) => client.set(k, v),
    get: (k) => client.get(k),
    setGetPipelined: (k, v) => settle([client.set(k, v), client.get(k)]),
    setGetMulti: (k, v) => client.multi().set(k, v).get(k).exec(),
    close: () => client.close(),
  };
});
