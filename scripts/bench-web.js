// bench-web.js: scripts/web-app.py's reply from Node.js, for scripts/bench's
// upgrade row, where PM2 runs it as a cluster of 4 (`pm2 reload` overlaps
// only in cluster mode, and cluster mode is for Node only).
//
// GET / -> "hits N index I pid P version V generation -": N counts this
// process's requests (no stash, as web-app.py runs in the bench); I is PM2's
// NODE_APP_INSTANCE; V is $APP_VERSION, which `pm2 reload --update-env`
// changes.
//
// It follows PM2's own advice for a reload without downtime: on SIGINT (what
// PM2 sends), server.close() stops taking connections, the idle keep-alive
// ones are closed (close() does it too since Node 19), each reply after it
// says "Connection: close" (as web-app.py does), and the process exits once
// the last connection is gone.
'use strict';
const http = require('http');

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) {
  console.error('bench-web.js: PORT must name the TCP port to listen on');
  process.exit(2);
}
let hits = 0;
let stopping = false;
const server = http.createServer((request, response) => {
  hits += 1;
  // Once stopping, each reply says so: a kept connection is not raced.
  if (stopping) response.setHeader('Connection', 'close');
  const body = `hits ${hits} index ${process.env.NODE_APP_INSTANCE ?? '-'} pid ${process.pid} ` +
    `version ${process.env.APP_VERSION ?? '1'} generation -\n`;
  response.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
  response.end(body);
});
server.listen(port, '127.0.0.1');
process.on('SIGINT', () => {
  stopping = true;
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
