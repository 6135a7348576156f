/**
 * The Bedrock runtime SDK, loaded on first use rather than when the adapter module loads: a container whose
 * requests go to other providers never initialises it (its module set-up and client construction are
 * ~5-8 ms of a Lambda cold start), and the first Bedrock call of a container pays that instead.
 */
type BedrockSdk = typeof import('@aws-sdk/client-bedrock-runtime');

let sdk: BedrockSdk | undefined;

export function bedrockSdk(): BedrockSdk {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  sdk ??= require('@aws-sdk/client-bedrock-runtime') as BedrockSdk;
  return sdk;
}
