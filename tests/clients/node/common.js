// What the ioredis and node-redis programs share: the script they run against
// the worker or the stash, how they print a reply (its type visible), and the
// lines the test sends them on stdin.
//
// The test (tests/integration/real_clients_test.cpp) reads stdout line by
// line: "<context> <COMMAND> <reply>", where <reply> is a bare number only
// for a JavaScript number ("7"); a string is quoted ("\"7\""), a BigInt ends
// in n ("7n"), null is null, an error is error(<message>).
'use strict';
const path = require('node:path');
const readline = require('node:readline');

// The folder `npm ci` filled (scripts/test: <build dir>/node-clients/node_modules).
function load(name) {
  const dir = process.env.SEQ_NODE_MODULES;
  if (!dir) throw new Error('SEQ_NODE_MODULES is not set');
  return require(path.join(dir, name));
}

function repr(v) {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (Buffer.isBuffer(v)) return `buffer(${JSON.stringify(v.toString())})`;
  if (v instanceof Error) return `error(${v.message})`;
  if (Array.isArray(v)) return `[${v.map(repr).join(',')}]`;
  return `${typeof v}(${JSON.stringify(v)})`;
}

function out(line) {
  process.stdout.write(line + '\n');
}

// The next line on stdin, in order.
const lines = [];
const waiters = [];
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (l) => (waiters.length ? waiters.shift()(l) : lines.push(l)));
rl.on('close', () => {
  while (waiters.length) waiters.shift()('eof');
  lines.push('eof');
});
function nextLine() {
  return lines.length ? Promise.resolve(lines.shift()) : new Promise((resolve) => waiters.push(resolve));
}

async function replies(context, cmds, fn) {
  let got;
  try {
    got = await fn(cmds);
  } catch (e) {
    got = cmds.map(() => e);
  }
  cmds.forEach((c, i) => out(`${context} ${c[0]} ${repr(got[i])}`));
}

// The worker's script. `c` has plain(args), pipeline(cmds), multi(cmds) (each
// reply in order, an Error where a command failed) and close().
//   1. with its defaults, straight after connecting: plain calls, a pipeline,
//      a transaction, then the protocol the connection speaks ("resp N",
//      from CLIENT INFO); then "ready", and waits for "go" (the test kills
//      the worker with -9 and starts another meanwhile);
//   2. the same client object again, reconnected as the library does by
//      itself: plain calls and a pipeline; "done";
//   3. on "loop": NEXT after NEXT, one line each ("loop 41" or "loop-error
//      <message>"), while the test kills the worker again, until "stop".
async function worker(c) {
  const N = ['NEXT'], I = ['INCREMENT', '5'], G = ['GET'];
  const serial = async (cmds) => {
    const r = [];
    for (const cmd of cmds) r.push(await c.plain(cmd).catch((e) => e));
    return r;
  };
  await replies('plain', [N, N, I, G], serial);
  await replies('pipeline', [N, N, N, I, G], c.pipeline);
  await replies('multi', [N, I, G], c.multi);
  const info = await c.plain(['CLIENT', 'INFO']).catch((e) => e);
  const m = /\bresp=(\d)/.exec(String(info));
  out(`resp ${m ? m[1] : repr(info)}`);
  out('ready');
  if ((await nextLine()) !== 'go') return c.close();
  await replies('plain', [N, I, G], serial);
  await replies('pipeline', [N, I, G], c.pipeline);
  out('done');
  if ((await nextLine()) !== 'loop') return c.close();
  let stop = false;
  nextLine().then(() => (stop = true));
  let errors = 0;
  const deadline = Date.now() + 30000;
  while (!stop && Date.now() < deadline && errors < 1000) {
    try {
      out(`loop ${repr(await c.plain(N))}`);
    } catch (e) {
      errors++;
      out(`loop-error ${e.message}`);
      await new Promise((resolve) => setTimeout(resolve, 1));  // the event loop turns: stdin is read
    }
  }
  out(stop ? 'stopped' : 'gave up');
  await c.close();
}

// The stash's script: SET and GET with the library's own methods, plain,
// pipelined and in a transaction; a key that is not there; then "done".
async function stash(c) {
  out(`plain SET ${repr(await c.set('greeting', 'hello').catch((e) => e))}`);
  out(`plain GET ${repr(await c.get('greeting').catch((e) => e))}`);
  out(`plain GET-missing ${repr(await c.get('no-such-key').catch((e) => e))}`);
  const got = await c.setGetPipelined('greeting', 'hello again').catch((e) => [e, e]);
  out(`pipeline SET ${repr(got[0])}`);
  out(`pipeline GET ${repr(got[1])}`);
  const tx = await c.setGetMulti('greeting', 'hello-multi').catch((e) => [e, e]);
  out(`multi SET ${repr(tx[0])}`);
  out(`multi GET ${repr(tx[1])}`);
  out('done');
  await c.close();
}

// argv: MODULE worker|stash SOCKET default|2|3 (MODULE: the folder under node_modules)
function args() {
  const [target, socket, protocol] = process.argv.slice(3);
  if (!['worker', 'stash'].includes(target) || !socket || !['default', '2', '3'].includes(protocol)) {
    process.stderr.write('usage: node CLIENT.js MODULE worker|stash SOCKET default|2|3\n');
    process.exit(2);
  }
  return { module: process.argv[2], target, socket, protocol };
}

async function main(connect) {
  const a = args();
  const c = await connect(a);
  await (a.target === 'worker' ? worker(c) : stash(c));
  rl.close();
}

function run(connect) {
  main(connect).then(
    () => process.exit(0),
    (e) => {
      out(`fatal ${e && e.stack ? e.stack : e}`);
      process.exit(1);
    },
  );
}

module.exports = { load, repr, out, run };
