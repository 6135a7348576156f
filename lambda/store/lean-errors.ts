/**
 * The DynamoDB service exceptions the lean client throws, without loading @aws-sdk/client-dynamodb: the
 * same names, `$fault`, `$retryable`, modeled fields and shape ids as the SDK's classes. The SDK's
 * exceptions decide `instanceof` by shape id and name once a value has `$fault` and `$metadata`
 * (ServiceException[Symbol.hasInstance]), so `err instanceof ConditionalCheckFailedException` (the SDK's
 * class) holds for these too, and `instanceof DynamoDBServiceException` for all of them;
 * test/unit/store/lean-errors.test.ts checks both against the SDK's own classes.
 */
export type Metadata = {
  httpStatusCode?: number;
  requestId?: string;
  extendedRequestId?: string;
  cfId?: string;
  attempts?: number;
  totalRetryDelay?: number;
  clockSkewCorrected?: boolean;
};

type Fault = 'client' | 'server';

export interface ServiceExceptionOptions {
  name: string;
  $fault: Fault;
  $metadata: Metadata;
  message: string;
}

/** As the SDK's DynamoDBServiceException (a ServiceException): the base of every DynamoDB error. */
export class DynamoDBServiceException extends Error {
  static readonly shapeId: string = 'smithy.ts.sdk.synthetic.com.amazonaws.dynamodb#DynamoDBServiceException';
  $fault: Fault;
  $response: unknown = undefined;
  $retryable: object | undefined = undefined;
  $metadata: Metadata;

  constructor(options: ServiceExceptionOptions) {
    super(options.message);
    this.name = options.name;
    this.$fault = options.$fault;
    this.$metadata = options.$metadata;
  }
}

export type ModeledException = new (opts: { $metadata: Metadata; message: string }) => DynamoDBServiceException;

/** One modeled exception class, named `name`, with the SDK class's fault, retryability and modeled fields. */
function modeled(name: string, fault: Fault, fields: readonly string[] = [], retryable = false): ModeledException {
  const cls = class extends DynamoDBServiceException {
    static override readonly shapeId = `com.amazonaws.dynamodb#${name}`;
    constructor(opts: { $metadata: Metadata; message: string }) {
      super({ name, $fault: fault, ...opts });
      if (retryable) this.$retryable = {};
      for (const f of fields) (this as unknown as Record<string, unknown>)[f] = (opts as unknown as Record<string, unknown>)[f];
    }
  };
  Object.defineProperty(cls, 'name', { value: name });
  return cls;
}

/** The errors DynamoDB's item operations can return, as @aws-sdk/client-dynamodb models them. */
export const EXCEPTIONS: Readonly<Record<string, ModeledException>> = Object.fromEntries(
  (
    [
      ['ConditionalCheckFailedException', 'client', ['Item']],
      ['DuplicateItemException', 'client'],
      ['IdempotentParameterMismatchException', 'client', ['Message']],
      ['InternalServerError', 'server'],
      ['ItemCollectionSizeLimitExceededException', 'client'],
      ['LimitExceededException', 'client'],
      ['ProvisionedThroughputExceededException', 'client', ['ThrottlingReasons']],
      ['ReplicatedWriteConflictException', 'client', [], true],
      ['RequestLimitExceeded', 'client', ['ThrottlingReasons']],
      ['ResourceNotFoundException', 'client'],
      ['ThrottlingException', 'client', ['throttlingReasons']],
      ['TransactionCanceledException', 'client', ['Message', 'CancellationReasons']],
      ['TransactionConflictException', 'client'],
      ['TransactionInProgressException', 'client', ['Message']],
    ] as const
  ).map(([name, fault, fields, retryable]) => [name, modeled(name, fault, fields, retryable)]),
);
