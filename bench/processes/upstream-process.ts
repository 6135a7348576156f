/** Child process: the upstream doubles, so their work does not share the gateway's event loop. */
import { startUpstreams, type UpstreamOptions } from '../upstream/upstreams';
import { serveWorker } from './ipc';

void (async () => {
  let stopAll: (() => Promise<void>) | undefined;
  serveWorker(
    {
      start: async (payload) => {
        const up = await startUpstreams(payload as UpstreamOptions);
        stopAll = up.close;
        return up.urls;
      },
    },
    async () => stopAll?.(),
  );
})();
