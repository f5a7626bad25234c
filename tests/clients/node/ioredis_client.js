// ioredis with its defaults against the worker or the stash; the script and
// the output are common.js's. argv: MODULE worker|stash SOCKET default|2|3,
// MODULE being the folder under node_modules ("ioredis", or "ioredis-v5" for
// the previous major), protocol 2 or 3 ioredis's `protocol` option (6 on).
'use strict';
const { load, run } = require('./common.js');

run(async (a) => {
  const Redis = load(a.module);
  const options = { path: a.socket };
  if (a.protocol !== 'default') options.protocol = Number(a.protocol);
  const redis = new Redis(options);
  // Without a listener ioredis prints each connection error: the kills.
  redis.on('error', (e) => process.stderr.write(`ioredis error: ${e.message}\n`));
  const each = (results) => results.map(([err, value]) => err || value);
  return {
    plain: (cmd) => redis.call(...cmd),
    pipeline: async (cmds) => {
      const p = redis.pipeline();
      for (const cmd of cmds) p.call(...cmd);
      return each(await p.exec());
    },
    multi: async (cmds) => {
      const m = redis.multi();
      for (const cmd of cmds) m.call(...cmd);
      return each(await m.exec());
    },
    set: (k, v) => redis.set(k, v),
    get: (k) => redis.get(k),
    setGetPipelined: async (k, v) => each(await redis.pipeline().set(k, v).get(k).exec()),
    setGetMulti: async (k, v) => each(await redis.multi().set(k, v).get(k).exec()),
    close: () => redis.quit(),
  };
});
