/**
 * Child process: one gateway under test. Reports its peak RSS, CPU time and DynamoDB request counts on
 * request, and CPU-profiles itself (V8 sampling profiler over the inspector) between `profile-start`
 * and `profile-stop`, so start-up, module compilation and warm-up stay out of the profile.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { startGatewayUnderTest, type GatewayUnderTest, type GatewayUnderTestOptions } from '../gateway/under-test';
import { serveWorker } from './ipc';

let gateway: GatewayUnderTest | undefined;
let session: Session | undefined;

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function post<T>(s: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => s.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result as T))));
}

serveWorker(
  {
    start: async (payload) => {
      gateway = await startGatewayUnderTest(payload as GatewayUnderTestOptions);
      const { url, headers, composition, models } = gateway;
      return { url, headers, composition, models };
    },
    stats: async () => {
      (globalThis as { gc?: () => void }).gc?.();
      return {
      maxRssKb: process.resourceUsage().maxRSS,
      rssBytes: process.memoryUsage().rss,
      heapUsedBytes: process.memoryUsage().heapUsed,
      cpuMicros: cpuMicros(),
      dynamo: gateway?.dynamoCounts(),
      };
    },
    idle: async () => gateway?.idle(),
    'profile-start': async () => {
      session = new Session();
      session.connect();
      await post(session, 'Profiler.enable');
      await post(session, 'Profiler.setSamplingInterval', { interval: 250 });
      await post(session, 'Profiler.start');
    },
    'profile-stop': async (dir) => {
      if (!session) return;
      const { profile } = await post<{ profile: unknown }>(session, 'Profiler.stop');
      session.disconnect();
      session = undefined;
      writeFileSync(join(dir as string, `gateway-${process.pid}.cpuprofile`), JSON.stringify(profile));
    },
  },
  async () => gateway?.close(),
);
