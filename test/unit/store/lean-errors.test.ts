/**
 * The lean client's exceptions (lambda/store/lean-errors.ts) against @aws-sdk/client-dynamodb's own: the
 * same fields, and `instanceof` the SDK's classes (what callers of the SDK check), without the SDK loaded.
 */
import * as sdk from '@aws-sdk/client-dynamodb';
import { DynamoDBServiceException, EXCEPTIONS } from '../../../lambda/store/lean-errors';

const $metadata = { httpStatusCode: 400, requestId: 'req-1', attempts: 1, totalRetryDelay: 0 };
type SdkException = new (opts: { $metadata: typeof $metadata; message: string }) => sdk.DynamoDBServiceException;

function ownFields(e: Error): Record<string, unknown> {
  return { ...Object.fromEntries(Object.entries(e)), name: e.name, message: e.message, constructor: e.constructor.name };
}

describe('Lean DynamoDB exceptions', () => {
  it.each(Object.keys(EXCEPTIONS))('%s has the SDK class’s fields and is an instance of it', (name) => {
    const Sdk = (sdk as unknown as Record<string, SdkException>)[name];
    expect(Sdk).toBeDefined();
    const ours = new EXCEPTIONS[name]({ $metadata, message: 'boom' });
    const theirs = new Sdk({ $metadata, message: 'boom' });
    expect(ownFields(ours)).toEqual(ownFields(theirs));
    expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
    expect(ours).toBeInstanceOf(Sdk);
    expect(ours).toBeInstanceOf(sdk.DynamoDBServiceException);
    expect(ours).toBeInstanceOf(DynamoDBServiceException);
    expect(ours).toBeInstanceOf(Error);
    // ...and of no other modeled exception.
    const other = name === 'ResourceNotFoundException' ? sdk.ConditionalCheckFailedException : sdk.ResourceNotFoundException;
    expect(ours).not.toBeInstanceOf(other);
  });

  it('an unmodeled error is a DynamoDBServiceException of the SDK too, with the name the service gave', () => {
    const ours = new DynamoDBServiceException({ name: 'ValidationException', $fault: 'client', $metadata, message: 'bad' });
    const theirs = new sdk.DynamoDBServiceException({ name: 'ValidationException', $fault: 'client', $metadata, message: 'bad' });
    expect(ownFields(ours)).toEqual(ownFields(theirs));
    expect(ours).toBeInstanceOf(sdk.DynamoDBServiceException);
    expect(ours).not.toBeInstanceOf(sdk.ConditionalCheckFailedException);
  });
});
