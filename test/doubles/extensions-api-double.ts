/**
 * Lambda's Extensions API on loopback (register, event/next), for the shutdown-signal extension
 * (lambda/layers/shutdown-signal): what it receives is recorded, as Lambda checks it (the name header, the
 * identifier on next).
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const EXTENSION_ID = 'a1b2c3d4-5678-90ab-cdef-EXAMPLE11111';

export interface ExtensionsApiCall {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * The Extensions API: register answers an identifier (or `registerStatus`); next answers the `before`
 * events at once, in order, then is held until `retire()` answers SHUTDOWN (`retireAtOnce`: answered
 * SHUTDOWN at once, for a whole extension life in one go).
 */
export async function startExtensionsApi(opts: { registerStatus?: number; before?: object[]; retireAtOnce?: boolean } = {}) {
  const before = [...(opts.before ?? [])];
  const calls: ExtensionsApiCall[] = [];
  const waiting: ServerResponse[] = [];
  let nextArrived: () => void = () => undefined;
  const nextSeen = new Promise<void>((r) => (nextArrived = r));
  const retire = () => {
    // With a Content-Length (the other answers here are chunked: both framings are read).
    const body = JSON.stringify({ eventType: 'SHUTDOWN', shutdownReason: 'spindown', deadlineMs: Date.now() + 2000 });
    for (const res of waiting.splice(0)) {
      res.writeHead(200, { 'Lambda-Extension-Event-Identifier': 'e1', 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    }
  };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      calls.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (req.method === 'POST' && req.url === '/2020-01-01/extension/register') {
        const status = opts.registerStatus ?? 200;
        res.writeHead(status, status === 200 ? { 'Lambda-Extension-Identifier': EXTENSION_ID, 'Content-Type': 'application/json' } : { 'Content-Type': 'application/json' });
        res.end(status === 200 ? JSON.stringify({ functionName: 'tollgate-gateway', functionVersion: '$LATEST', handler: 'index.handler' }) : JSON.stringify({ errorType: 'Extension.Refused' }));
      } else if (req.method === 'GET' && req.url === '/2020-01-01/extension/event/next') {
        const event = before.shift();
        if (event) {
          res.writeHead(200, { 'Lambda-Extension-Event-Identifier': 'e0', 'Content-Type': 'application/json' }).end(JSON.stringify(event));
          return;
        }
        waiting.push(res);
        nextArrived();
        if (opts.retireAtOnce) retire();
      } else {
        res.writeHead(404).end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    api: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    nextSeen,
    retire,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}
