/**
 * The local server: the same gateway app as in Lambda, served by Node's http module. Used by `npm start`,
 * the end-to-end tests and the benchmark.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GatewayApp } from '../app/gateway-app';
import { createNodeListener } from './node-adapter';

export interface RunningServer {
  /** Base URL including `/v1`, e.g. http://127.0.0.1:8787/v1 */
  url: string;
  port: number;
  server: Server;
  /** Resolves when all deferred work (settlements) started so far has finished. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export async function serveApp(app: GatewayApp, opts: { host?: string; port?: number } = {}): Promise<RunningServer> {
  const pending = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    const settled = p.catch(() => undefined).finally(() => pending.delete(settled));
    pending.add(settled);
  };
  const server = createServer(createNodeListener(app, { track }));
  // Long generations: no server-side request timeout; the client and the targets' timeouts govern.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 65_000;
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const idle = async () => {
    while (pending.size > 0) await Promise.all([...pending]);
  };
  return {
    url: `http://${host}:${port}/v1`,
    port,
    server,
    idle,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await idle();
    },
  };
}
