import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { makeStack } from './support/make-stack';

type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string; UpdateReplacePolicy?: string };
type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource: unknown };

const partition = { Ref: 'AWS::Partition' };
const account = { Ref: 'AWS::AccountId' };
const fmArn = (region: string, model: string) => ({
  'Fn::Join': ['', ['arn:', partition, `:bedrock:${region}::foundation-model/${model}`]],
});
const profileArn = (region: string, profile: string) => ({
  'Fn::Join': ['', ['arn:', partition, `:bedrock:${region}:`, account, `:inference-profile/${profile}`]],
});

function resourcesOf(template: Template, type: string): Array<[string, Resource]> {
  return Object.entries(template.findResources(type)) as Array<[string, Resource]>;
}

function statementsOf(template: Template): Statement[] {
  return resourcesOf(template, 'AWS::IAM::Policy').flatMap(
    ([, r]) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement,
  );
}

const asArray = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

function gatewayFunction(template: Template): Resource {
  const fns = resourcesOf(template, 'AWS::Lambda::Function').filter(([, r]) =>
    String(r.Properties.Description).includes('gateway'),
  );
  expect(fns).toHaveLength(1);
  return fns[0][1];
}

describe('TollgateStack with the example config', () => {
  let template: Template;
  let keysTableId: string;
  let ledgerTableId: string;

  beforeAll(() => {
    ({ template } = makeStack());
    const tables = resourcesOf(template, 'AWS::DynamoDB::Table');
    keysTableId = tables.find(([id]) => id.startsWith('DataKeysTable'))![0];
    ledgerTableId = tables.find(([id]) => id.startsWith('DataLedgerTable'))![0];
  });

  describe('API', () => {
    it('is a REGIONAL REST API', () => {
      template.hasResourceProperties('AWS::ApiGateway::RestApi', { EndpointConfiguration: { Types: ['REGIONAL'] } });
    });

    it('streams every route: STREAM transfer mode, the response-streaming invocation URI, the configured timeout', () => {
      const methods = resourcesOf(template, 'AWS::ApiGateway::Method');
      expect(methods.map(([, m]) => m.Properties.HttpMethod).sort()).toEqual(['ANY', 'GET', 'POST', 'POST', 'POST', 'POST', 'POST']);
      for (const [, method] of methods) {
        expect(method.Properties.Integration).toMatchObject({
          Type: 'AWS_PROXY',
          IntegrationHttpMethod: 'POST',
          ResponseTransferMode: 'STREAM',
          TimeoutInMillis: 300_000,
        });
        const uri = JSON.stringify((method.Properties.Integration as { Uri: unknown }).Uri);
        expect(uri).toContain(':lambda:path/2021-11-15/functions/');
        expect(uri).toContain('/response-streaming-invocations');
      }
    });

    it('routes /v1/{proxy+}, GET /v1/models and POST /v1/chat/completions, /v1/responses, /v1/embeddings, /v1/messages and /v1/messages/count_tokens to the function', () => {
      const paths = resourcesOf(template, 'AWS::ApiGateway::Resource').map(([, r]) => r.Properties.PathPart);
      expect(paths.sort()).toEqual(['chat', 'completions', 'count_tokens', 'embeddings', 'messages', 'models', 'responses', 'v1', '{proxy+}'].sort());
      const permissions = resourcesOf(template, 'AWS::Lambda::Permission').filter(
        ([, p]) => p.Properties.Principal === 'apigateway.amazonaws.com',
      );
      expect(permissions).toHaveLength(7);
      for (const [, p] of permissions) {
        expect(p.Properties).toMatchObject({ Action: 'lambda:InvokeFunction', Principal: 'apigateway.amazonaws.com' });
      }
    });

    it('validates the chat completions body shallowly (model + non-empty messages)', () => {
      template.hasResourceProperties('AWS::ApiGateway::RequestValidator', {
        ValidateRequestBody: true,
        ValidateRequestParameters: true,
      });
      template.hasResourceProperties('AWS::ApiGateway::Model', {
        ContentType: 'application/json',
        Schema: Match.objectLike({
          required: ['model', 'messages'],
          properties: { model: { type: 'string', minLength: 1 }, messages: { type: 'array', minItems: 1 } },
        }),
      });
      template.hasResourceProperties('AWS::ApiGateway::Method', {
        HttpMethod: 'POST',
        RequestValidatorId: { Ref: Match.stringLikeRegexp('BodyValidator') },
        RequestModels: { 'application/json': { Ref: Match.stringLikeRegexp('ChatCompletionRequest') } },
      });
    });

    it('answers its own errors in the OpenAI error shape', () => {
      const responses = resourcesOf(template, 'AWS::ApiGateway::GatewayResponse');
      expect(responses.map(([, r]) => r.Properties.ResponseType).sort()).toEqual(
        ['BAD_REQUEST_BODY', 'DEFAULT_4XX', 'DEFAULT_5XX', 'THROTTLED'].sort(),
      );
      const badBody = responses.find(([, r]) => r.Properties.ResponseType === 'BAD_REQUEST_BODY')![1];
      const body = JSON.parse((badBody.Properties.ResponseTemplates as Record<string, string>)['application/json']);
      expect(body).toEqual({ error: expect.objectContaining({ type: 'invalid_request_error', param: null }) });
    });

    it('logs: JSON access log without headers or bodies, ERROR execution logging, metrics on, data trace off, throttling', () => {
      const [, stage] = resourcesOf(template, 'AWS::ApiGateway::Stage')[0];
      expect(stage.Properties.StageName).toBe('prod');
      expect(stage.Properties.MethodSettings).toEqual([
        {
          DataTraceEnabled: false,
          HttpMethod: '*',
          LoggingLevel: 'ERROR',
          MetricsEnabled: true,
          ResourcePath: '/*',
          ThrottlingBurstLimit: 1000,
          ThrottlingRateLimit: 500,
        },
      ]);
      const access = stage.Properties.AccessLogSetting as { Format: string; DestinationArn: unknown };
      expect(JSON.stringify(access.DestinationArn)).toContain('ApiAccessLogs');
      const format = JSON.parse(access.Format) as Record<string, string>;
      expect(format).toMatchObject({ requestId: '$context.requestId', status: '$context.status' });
      for (const value of Object.values(format)) {
        expect(value).not.toMatch(/header|authorizer|apiKey|body/i);
      }
    });

    it('sets the account CloudWatch role for execution logging and keeps it on stack deletion', () => {
      template.resourceCountIs('AWS::ApiGateway::Account', 1);
      const roles = resourcesOf(template, 'AWS::IAM::Role').filter(([id]) => id.includes('CloudWatchRole'));
      expect(roles).toHaveLength(1);
      expect(roles[0][1].DeletionPolicy).toBe('Retain');
    });
  });

  describe('gateway function', () => {
    it('runs Node.js 22 on arm64 with memory and timeout from config.deployment', () => {
      expect(gatewayFunction(template).Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        MemorySize: 1024,
        Timeout: 300,
        Handler: 'index.handler',
      });
    });

    it('logs to its own log group with the configured retention', () => {
      const logging = gatewayFunction(template).Properties.LoggingConfig as { LogGroup: { Ref: string }; LogFormat: string };
      expect(logging.LogFormat).toBe('JSON');
      const logGroup = template.toJSON().Resources[logging.LogGroup.Ref] as Resource;
      expect(logGroup.Type).toBe('AWS::Logs::LogGroup');
      expect(logGroup.Properties.RetentionInDays).toBe(30);
    });

    it('gets names and ARNs in its environment, never a secret value', () => {
      const env = (gatewayFunction(template).Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(Object.keys(env).sort()).toEqual(
        [
          // No NODE_OPTIONS=--enable-source-maps: the handler maps its traces on the first one (lazy-source-maps.ts).
          'POWERTOOLS_METRICS_NAMESPACE',
          'POWERTOOLS_SERVICE_NAME',
          'TOLLGATE_ALERT_TOPIC_ARN',
          'TOLLGATE_KEYS_TABLE',
          'TOLLGATE_LEDGER_TABLE',
          'TOLLGATE_OUTBOX_QUEUE_URL',
          'TOLLGATE_PROVIDER_SECRET_ARN',
        ],
      );
      expect(env).toMatchObject({
        TOLLGATE_KEYS_TABLE: { Ref: keysTableId },
        TOLLGATE_LEDGER_TABLE: { Ref: ledgerTableId },
        TOLLGATE_PROVIDER_SECRET_ARN: { Ref: expect.stringMatching(/^SecretsProviderKeys/) },
        TOLLGATE_ALERT_TOPIC_ARN: { Ref: expect.stringMatching(/^AlertsTopic/) },
        POWERTOOLS_SERVICE_NAME: 'Tollgate',
        POWERTOOLS_METRICS_NAMESPACE: 'Tollgate',
      });
      const text = JSON.stringify(env);
      expect(text).not.toContain('resolve:secretsmanager'); // no dynamic reference to the secret's value
      expect(text).not.toContain('SecretString');
      expect(text).not.toMatch(/sk-[A-Za-z0-9]/);
    });

    it('may invoke exactly the Bedrock models the config routes to, in every region their profiles use', () => {
      const bedrock = statementsOf(template).filter((s) => asArray(s.Action).some((a) => a.startsWith('bedrock:')));
      expect(bedrock).toHaveLength(1);
      expect(bedrock[0].Effect).toBe('Allow');
      expect(asArray(bedrock[0].Action).sort()).toEqual(['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream']);
      const haiku = 'anthropic.claude-haiku-4-5-20251001-v1:0';
      const sonnet = 'anthropic.claude-sonnet-4-5-20250929-v1:0';
      const usRegions = ['us-east-1', 'us-east-2', 'us-west-1', 'us-west-2'];
      const expected = [
        profileArn('us-east-1', `us.${haiku}`),
        profileArn('us-east-1', `us.${sonnet}`),
        fmArn('us-east-1', 'amazon.nova-lite-v1:0'),
        ...usRegions.map((r) => fmArn(r, haiku)),
        ...usRegions.map((r) => fmArn(r, sonnet)),
      ];
      const key = (v: unknown) => JSON.stringify(v);
      expect(asArray(bedrock[0].Resource).map(key).sort()).toEqual(expected.map(key).sort());
    });

    it('has no wildcard action or resource in any identity policy', () => {
      for (const s of statementsOf(template)) {
        for (const action of asArray(s.Action)) expect(action).not.toMatch(/\*/);
        for (const resource of asArray(s.Resource)) {
          expect(resource).not.toBe('*');
          expect(JSON.stringify(resource)).not.toMatch(/(foundation-model|inference-profile)\/\*/);
        }
      }
      for (const [, role] of resourcesOf(template, 'AWS::IAM::Role').filter(([id]) => !id.includes('CloudWatchRole'))) {
        expect(role.Properties.ManagedPolicyArns).toBeUndefined();
      }
    });

    it('reads the keys table, reads and writes the ledger, reads the secret and publishes to the alert topic', () => {
      const statements = statementsOf(template);
      const on = (needle: string) => statements.filter((s) => JSON.stringify(s.Resource).includes(needle)).flatMap((s) => asArray(s.Action));
      // The gateway role's exact grant on the keys table is asserted in edges.test.ts; no role may write it.
      expect(on(keysTableId).filter((a) => /^dynamodb:(Put|Update|Delete|BatchWrite)/.test(a))).toEqual([]);
      expect(on(ledgerTableId)).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query']));
      expect(on('SecretsProviderKeys')).toEqual(['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret']);
      expect([...new Set(on('AlertsTopicCF'))]).toEqual(['sns:Publish']);
      expect([...new Set(on('AlertsTopicKey'))].sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    });
  });

  describe('data', () => {
    it('keys table: pk, on demand, PITR, encrypted, retained, deletion-protected', () => {
      const table = template.toJSON().Resources[keysTableId] as Resource;
      expect(table.Properties).toMatchObject({
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
        DeletionProtectionEnabled: true,
      });
      expect(table.Properties.TimeToLiveSpecification).toBeUndefined();
      expect(table.DeletionPolicy).toBe('Retain');
      expect(table.UpdateReplacePolicy).toBe('Retain');
    });

    it('ledger table: pk + sk, TTL on `ttl`, on demand, PITR, encrypted, retained', () => {
      const table = template.toJSON().Resources[ledgerTableId] as Resource;
      expect(table.Properties).toMatchObject({
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
      });
      expect(table.DeletionPolicy).toBe('Retain');
    });
  });

  describe('provider secret', () => {
    it('holds one empty field per provider that needs a key (Bedrock uses IAM)', () => {
      const secrets = resourcesOf(template, 'AWS::SecretsManager::Secret');
      expect(secrets).toHaveLength(1);
      const value = JSON.parse(secrets[0][1].Properties.SecretString as string);
      expect(value).toEqual({ anthropic: '', deepseek: '', google: '', mistral: '', openai: '' });
    });
  });

  describe('alerts', () => {
    it('encrypts the topic with a rotating customer-managed key that CloudWatch alarms may use', () => {
      template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('AlertsTopicKey'), 'Arn'] } });
      template.hasResourceProperties('AWS::KMS::Key', {
        EnableKeyRotation: true,
        KeyPolicy: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            }),
          ]),
        },
      });
    });

    it('denies publishing without TLS', () => {
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    });

    it('has no email subscriptions when config.alerts.emails is empty', () => {
      template.resourceCountIs('AWS::SNS::Subscription', 0);
    });
  });

  describe('sweeper', () => {
    it('runs the reservation sweeper every five minutes with the ledger table (not the keys table)', () => {
      template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
      const sweeper = resourcesOf(template, 'AWS::Lambda::Function').filter(([, r]) => String(r.Properties.Description).includes('sweeper'));
      expect(sweeper).toHaveLength(1);
      expect(sweeper[0][1].Properties).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'] });
      const env = (sweeper[0][1].Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(env).toMatchObject({ TOLLGATE_LEDGER_TABLE: { Ref: ledgerTableId } });
      expect(env.TOLLGATE_KEYS_TABLE).toBeUndefined();
    });
  });

  describe('outputs', () => {
    it('exports the OpenAI base URL (…/<stage>/v1) and the resource names', () => {
      const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
      expect(Object.keys(outputs).sort()).toEqual(['AlertTopicArn', 'ApiUrl', 'ChargebackBucketName', 'DashboardName', 'KeysTableName', 'LedgerTableName', 'ProviderSecretArn']);
      const parts = (outputs.ApiUrl.Value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
      expect(parts[0]).toBe('https://');
      expect(parts[parts.length - 1]).toBe('/v1');
      expect(JSON.stringify(parts)).toContain('ApiRestApiDeploymentStage');
      expect(outputs.KeysTableName.Value).toEqual({ Ref: keysTableId });
      expect(outputs.LedgerTableName.Value).toEqual({ Ref: ledgerTableId });
    });
  });
});

describe('TollgateStack with deployment and alert overrides', () => {
  let template: Template;

  beforeAll(() => {
    ({ template } = makeStack({
      config: {
        deployment: {
          memoryMb: 2048,
          timeoutSeconds: 900,
          logRetentionDays: 14,
          stageName: 'v2',
          throttleRateLimit: 50,
          throttleBurstLimit: 100,
        },
        alerts: { emails: ['ops@example.com', 'finance@example.com'] },
        observability: { namespace: 'AcmeGateway' },
      },
    }));
  });

  it('sizes the function and the integration timeout from config.deployment (streaming allows 15 min)', () => {
    expect(gatewayFunction(template).Properties).toMatchObject({ MemorySize: 2048, Timeout: 900 });
    for (const [, method] of resourcesOf(template, 'AWS::ApiGateway::Method')) {
      expect(method.Properties.Integration).toMatchObject({ TimeoutInMillis: 900_000, ResponseTransferMode: 'STREAM' });
    }
  });

  it('applies stage name, throttling and log retention', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'v2',
      MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 })],
    });
    for (const [, group] of resourcesOf(template, 'AWS::Logs::LogGroup')) {
      expect(group.Properties.RetentionInDays).toBe(14);
    }
  });

  it('subscribes each alert email', () => {
    const subs = resourcesOf(template, 'AWS::SNS::Subscription').map(([, s]) => s.Properties);
    expect(subs.map((s) => s.Protocol)).toEqual(['email', 'email']);
    expect(subs.map((s) => s.Endpoint).sort()).toEqual(['finance@example.com', 'ops@example.com']);
  });

  it('passes the metrics namespace to Powertools', () => {
    const env = (gatewayFunction(template).Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(env.POWERTOOLS_METRICS_NAMESPACE).toBe('AcmeGateway');
  });
});

describe('TollgateStack without Bedrock targets', () => {
  it('grants no Bedrock action at all', () => {
    const { template } = makeStack({
      configJson: {
        providers: { openai: { kind: 'openai-compatible', baseUrl: 'https://api.openai.com/v1', apiKey: { env: 'OPENAI_API_KEY' } } },
        models: { 'gpt-4o-mini': { targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] } },
      },
    });
    const actions = statementsOf(template).flatMap((s) => asArray(s.Action));
    expect(actions.filter((a) => a.startsWith('bedrock:'))).toEqual([]);
  });
});

describe('TollgateStack: the shutdown signal for the gateway function', () => {
  it('attaches one layer, an extension Lambda runs from /opt/extensions, to the gateway function and to no other', () => {
    const made = makeStack();
    const layers = resourcesOf(made.template, 'AWS::Lambda::LayerVersion');
    expect(layers).toHaveLength(1);
    const [layerId, layer] = layers[0];
    expect(layer.Properties).toMatchObject({ CompatibleArchitectures: ['arm64', 'x86_64'], CompatibleRuntimes: ['nodejs22.x'] });
    expect(gatewayFunction(made.template).Properties.Layers).toEqual([{ Ref: layerId }]);
    const others = resourcesOf(made.template, 'AWS::Lambda::Function').filter(([, r]) => !String(r.Properties.Description).includes('gateway'));
    expect(others.length).toBeGreaterThan(0);
    for (const [, fn] of others) expect(fn.Properties.Layers).toBeUndefined();

    // The asset as it is zipped for the layer (the zip keeps file modes): executable, under extensions/.
    const assembly = made.app.synth();
    const hash = String((layer.Properties.Content as { S3Key: string }).S3Key).replace(/\.zip$/, '');
    const script = join(assembly.directory, `asset.${hash}`, 'extensions', 'tollgate-shutdown-signal');
    expect(statSync(script).mode & 0o111).toBe(0o111);
    expect(readFileSync(script, 'utf8')).toMatch(/^#!\/bin\/bash\n/);
  });
});
