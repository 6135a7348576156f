/**
 * The public OpenAI-compatible endpoint: a REGIONAL REST API whose `/v1/...` routes are Lambda proxy
 * integrations in STREAM response-transfer mode, so server-sent events reach the client as the model
 * produces them and generations may run past REST's 29-second buffered limit (streaming allows 15 min;
 * a regional stream is also cut after 5 minutes without a byte).
 *
 * Authorization is the function's job (gateway keys, `Authorization: Bearer tg-...`), not API Gateway's.
 */
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { DeploymentConfig } from '../../lambda/core/config';
import { retentionDays } from './function-defaults';

export interface ApiProps {
  readonly handler: lambda.IFunction;
  readonly deployment: DeploymentConfig;
}

/**
 * One JSON object per request. Deliberately no header values (the Authorization header carries the
 * gateway key) and no bodies (prompts); the caller is identified by IP and user agent only.
 */
export const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  extendedRequestId: '$context.extendedRequestId',
  requestTime: '$context.requestTime',
  ip: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  httpMethod: '$context.httpMethod',
  path: '$context.path',
  resourcePath: '$context.resourcePath',
  protocol: '$context.protocol',
  status: '$context.status',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationStatus: '$context.integration.status',
  integrationLatency: '$context.integration.latency',
  integrationError: '$context.integration.error',
  errorMessage: '$context.error.message',
  errorType: '$context.error.responseType',
} as const;

/** OpenAI-shaped error bodies for the errors API Gateway answers itself (before the function runs). */
function openAiError(message: string, type: string, code: string): string {
  // `$context.error.messageString` is already a quoted JSON string; literal messages are quoted here.
  const msg = message.startsWith('$') ? message : JSON.stringify(message);
  return `{"error":{"message":${msg},"type":"${type}","param":null,"code":"${code}"}}`;
}

export class Api extends Construct {
  public readonly api: apigateway.RestApi;
  public readonly accessLogGroup: logs.ILogGroup;
  /** Base URL for OpenAI clients: `https://<id>.execute-api.<region>.amazonaws.com/<stage>/v1`. */
  public readonly baseUrl: string;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    const { deployment } = props;
    const accessLogGroup = new logs.LogGroup(this, 'AccessLogs', { retention: retentionDays(deployment.logRetentionDays) });

    const api = new apigateway.RestApi(this, 'RestApi', {
      // Named after the stack, so two stacks in one account are told apart in the console and in metrics.
      restApiName: Stack.of(this).stackName,
      description: 'Tollgate: OpenAI-compatible LLM gateway',
      endpointConfiguration: { types: [apigateway.EndpointType.REGIONAL] },
      // Execution logging needs the account-level CloudWatch role. Retained on stack deletion because the
      // setting is per account and region, and other APIs in the account may rely on it.
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: deployment.stageName,
        accessLogDestination: new apigateway.LogGroupLogDestination(accessLogGroup),
        accessLogFormat: apigateway.AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
        // ERROR, not INFO: the access log already has one line per request; INFO adds several per request
        // at gateway volume. Data trace stays off so prompts and completions are never logged.
        loggingLevel: apigateway.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        metricsEnabled: true,
        throttlingRateLimit: deployment.throttleRateLimit,
        throttlingBurstLimit: deployment.throttleBurstLimit,
      },
    });

    // The stack declares its own ApiUrl output (the /v1 base URL clients need); drop the stage-root one.
    api.node.tryRemoveChild('Endpoint');

    const integration = new apigateway.LambdaIntegration(props.handler, {
      proxy: true,
      responseTransferMode: apigateway.ResponseTransferMode.STREAM,
      timeout: Duration.seconds(deployment.timeoutSeconds),
      // One invoke permission per method is enough; console test-invoke permissions only add resources.
      allowTestInvoke: false,
    });

    const v1 = api.root.addResource('v1');
    // Every other /v1/... path reaches the function too, which answers unknown routes in OpenAI's error format.
    v1.addResource('{proxy+}').addMethod('ANY', integration);
    v1.addResource('models').addMethod('GET', integration);
    // The other API surfaces, named so they show in the console and access logs; the function validates them.
    v1.addResource('responses').addMethod('POST', integration);
    v1.addResource('embeddings').addMethod('POST', integration);
    const messages = v1.addResource('messages');
    messages.addMethod('POST', integration);
    messages.addResource('count_tokens').addMethod('POST', integration);

    // A shallow check only: the body is a JSON object with a model and at least one message. The function
    // validates the full OpenAI schema; this rejects junk before it costs an invocation.
    const chatRequest = api.addModel('ChatCompletionRequest', {
      contentType: 'application/json',
      modelName: 'ChatCompletionRequest',
      schema: {
        schema: apigateway.JsonSchemaVersion.DRAFT4,
        title: 'ChatCompletionRequest',
        type: apigateway.JsonSchemaType.OBJECT,
        required: ['model', 'messages'],
        properties: {
          model: { type: apigateway.JsonSchemaType.STRING, minLength: 1 },
          messages: { type: apigateway.JsonSchemaType.ARRAY, minItems: 1 },
        },
      },
    });
    const bodyValidator = api.addRequestValidator('BodyValidator', {
      requestValidatorName: 'chat-completions-body',
      validateRequestBody: true,
      // No method declares required parameters today, so this checks nothing yet; it makes any parameter
      // a later method marks as required be enforced at the edge.
      validateRequestParameters: true,
    });
    v1.addResource('chat')
      .addResource('completions')
      .addMethod('POST', integration, {
        requestValidator: bodyValidator,
        requestModels: { 'application/json': chatRequest },
      });

    api.addGatewayResponse('BadRequestBody', {
      type: apigateway.ResponseType.BAD_REQUEST_BODY,
      templates: {
        'application/json': openAiError(
          "Invalid request body: expected a JSON object with a 'model' string and a non-empty 'messages' array.",
          'invalid_request_error',
          'invalid_request_body',
        ),
      },
    });
    api.addGatewayResponse('Throttled', {
      type: apigateway.ResponseType.THROTTLED,
      templates: { 'application/json': openAiError('$context.error.messageString', 'rate_limit_error', 'rate_limit_exceeded') },
    });
    api.addGatewayResponse('Default4xx', {
      type: apigateway.ResponseType.DEFAULT_4XX,
      templates: { 'application/json': openAiError('$context.error.messageString', 'invalid_request_error', 'gateway_error') },
    });
    api.addGatewayResponse('Default5xx', {
      type: apigateway.ResponseType.DEFAULT_5XX,
      templates: { 'application/json': openAiError('$context.error.messageString', 'server_error', 'gateway_error') },
    });

    const authReason =
      'Clients authenticate with Tollgate gateway keys (Authorization: Bearer), which the function checks against ' +
      'the keys table (hashed, revocable, per-key budgets and limits); OpenAI clients cannot do IAM/SigV4 or Cognito.';
    Validations.of(api).acknowledge(
      { id: 'AwsSolutions-APIG4', reason: authReason },
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason:
          'The account-level role API Gateway uses to write execution logs; AmazonAPIGatewayPushToCloudWatchLogs is ' +
          'the policy AWS documents for exactly this role, and it can only be assumed by apigateway.amazonaws.com.',
      },
      { id: 'AwsSolutions-COG4', reason: authReason },
      {
        id: 'AwsSolutions-APIG3',
        reason:
          'No WAF by default (a web ACL costs a fixed monthly fee that a small self-hosted gateway may not want); ' +
          'stage throttling and per-key rate limits and budgets in the function bound abuse. Associate a web ACL ' +
          'with the stage if the endpoint faces untrusted traffic at scale.',
      },
    );

    this.api = api;
    this.accessLogGroup = accessLogGroup;
    this.baseUrl = `${api.url}v1`;
  }
}
