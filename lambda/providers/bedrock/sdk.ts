/**
 * The Bedrock runtime SDK, loaded on first use rather than when the adapter module loads: a container whose
 * requests go to other providers never initialises it (its module set-up and client construction are
 * ~5-8 ms of a Lambda cold start), and the first Bedrock call of a container pays that instead.
 */
import { onFirstUse } from '../../core/on-first-use';

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const bedrockSdk = onFirstUse(() => require('@aws-sdk/client-bedrock-runtime') as typeof import('@aws-sdk/client-bedrock-runtime'));

/**
 * The SDK's Node HTTP handler, loaded with the client: importing it at module load runs most of
 * @smithy/core's set-up (serde, config, endpoints, protocols: ~15-20 ms) in every cold start, Bedrock or not.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const httpHandlers = onFirstUse(() => require('@smithy/node-http-handler') as typeof import('@smithy/node-http-handler'));
