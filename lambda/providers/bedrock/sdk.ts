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

type HttpHandlerModule = typeof import('@smithy/node-http-handler');

let handlers: HttpHandlerModule | undefined;

/**
 * The SDK's Node HTTP handler, loaded with the client: importing it at module load runs most of
 * @smithy/core's set-up (serde, config, endpoints, protocols: ~15-20 ms) in every cold start, Bedrock or not.
 */
export function httpHandlers(): HttpHandlerModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  handlers ??= require('@smithy/node-http-handler') as HttpHandlerModule;
  return handlers;
}
