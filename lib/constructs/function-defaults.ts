/**
 * How every Tollgate function is built: Node.js 22 on Graviton, bundled locally by esbuild (no Docker),
 * an explicit log group with the configured retention, and its own role with no managed policies, so the
 * constructs that use it grant exactly what each function needs.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { bakedDefines } from '../baked-defines';
import { CHUNK_BUILD, chunkBuildCommands, LAZY_CHUNK_MODULES } from '../lazy-chunks';
import type { TollgateConfig } from '../settings';

export interface TollgateFunctionProps {
  /** Absolute path of the handler module (exports `handler`). */
  readonly entry: string;
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly logRetentionDays: number;
  readonly environment: Readonly<Record<string, string>>;
  /** The validated config, baked into the bundle as `__TOLLGATE_CONFIG__` (the function reads no file), with its price snapshot. */
  readonly config: TollgateConfig;
  /** Ship the lazily loaded modules (lib/lazy-chunks.ts) as chunks next to the bundle instead of inside it. */
  readonly lazyChunks?: boolean;
  /**
   * The handler maps its stack traces itself, reading the source map on the first trace
   * (lambda/handlers/lazy-source-maps.ts), so the function runs without NODE_OPTIONS=--enable-source-maps,
   * with which Node reads and parses the whole map while the bundle loads (every cold start).
   */
  readonly sourceMapsOnFirstTrace?: boolean;
}

/** logs.RetentionDays is a closed set; say which values are allowed instead of failing at deploy. */
export function retentionDays(days: number): logs.RetentionDays {
  const allowed = Object.values(logs.RetentionDays).filter((v): v is number => typeof v === 'number');
  if (!allowed.includes(days)) {
    throw new Error(
      `deployment.logRetentionDays = ${days} is not a CloudWatch Logs retention; use one of ${allowed.filter((d) => d > 0).join(', ')}.`,
    );
  }
  return days as logs.RetentionDays;
}

export class TollgateFunction extends Construct {
  public readonly function: nodejs.NodejsFunction;
  public readonly logGroup: logs.ILogGroup;
  public readonly role: iam.IRole;

  constructor(scope: Construct, id: string, props: TollgateFunctionProps) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: retentionDays(props.logRetentionDays) });
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.description} (execution role)`,
    });
    logGroup.grantWrite(role);

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: 'handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      role,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: {
        ...props.environment,
        // The bundle is minified; map stack traces back to the TypeScript sources in logs. Node reads and
        // parses the whole map at load (only decoding it waits for a trace): functions whose cold start
        // matters map their traces themselves instead (sourceMapsOnFirstTrace).
        ...(props.sourceMapsOnFirstTrace ? {} : { NODE_OPTIONS: '--enable-source-maps' }),
      },
      bundling: {
        forceDockerBundling: false,
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        logLevel: nodejs.LogLevel.WARNING,
        target: 'node22',
        format: nodejs.OutputFormat.CJS,
        // Bundle the AWS SDK v3 clients instead of using the runtime's copy: the versions we tested are the
        // versions that run (the runtime's SDK moves under us), and one minified, tree-shaken file loads
        // faster on a cold start than resolving the runtime's many SDK packages from disk.
        bundleAwsSDK: true,
        externalModules: props.lazyChunks ? [...LAZY_CHUNK_MODULES] : [],
        // Packages resolved as Node resolves them (their CommonJS builds, not the ESM ones): lib/lazy-chunks.ts.
        esbuildArgs: { '--conditions': CHUNK_BUILD.conditions.join(',') },
        define: bakedDefines(props.config),
        ...(props.lazyChunks
          ? {
              commandHooks: {
                beforeBundling: () => [],
                beforeInstall: () => [],
                afterBundling: (_inputDir: string, outputDir: string) => chunkBuildCommands(outputDir),
              },
            }
          : {}),
      },
    });
    this.logGroup = logGroup;
    this.role = role;

    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Pinned to nodejs22.x on purpose: the bundle targets node22 and the response-streaming contract was tested ' +
        'on it. Move runtime and esbuild target together, deliberately, rather than with every new runtime.',
    });
  }
}
