// Placeholder: replaced by the DynamoDB Local harness.
export default async function globalSetup(): Promise<void> {}
