/**
 * Child process: the dynalite store, so its work (it stands in for DynamoDB, a remote service) does not
 * run on the gateway's event loop. The gateway attaches to it through the data folder's endpoint file.
 */
import { openLocalStore, type LocalStore } from '../../lambda/local/embedded-dynamo';
import { serveWorker } from './ipc';

let store: LocalStore | undefined;

serveWorker(
  {
    start: async (dataDir) => {
      store = await openLocalStore({ dataDir: dataDir as string });
      return store.endpoint;
    },
  },
  async () => store?.close(),
);
