/** Stops the DynamoDB Local that global-setup started. */
export default async function globalTeardown(): Promise<void> {
  const local = globalThis.__TOLLGATE_DYNAMODB_LOCAL__;
  globalThis.__TOLLGATE_DYNAMODB_LOCAL__ = undefined;
  await local?.stop();
}
