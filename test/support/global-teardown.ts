// Placeholder: replaced by the DynamoDB Local harness.
export default async function globalTeardown(): Promise<void> {}
