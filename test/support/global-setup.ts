/** Starts one DynamoDB Local for the whole jest run; workers find it through TOLLGATE_TEST_DYNAMODB_ENDPOINT. */
import { ENDPOINT_ENV, startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local';

declare global {
  // Shared with global-teardown (jest runs both in the parent process).
  var __TOLLGATE_DYNAMODB_LOCAL__: DynamoDbLocal | undefined;
}

export default async function globalSetup(): Promise<void> {
  if (process.env[ENDPOINT_ENV]) return; // an endpoint was given from outside: use it as is
  const local = await startDynamoDbLocal();
  globalThis.__TOLLGATE_DYNAMODB_LOCAL__ = local;
  process.env[ENDPOINT_ENV] = local.endpoint;
}
