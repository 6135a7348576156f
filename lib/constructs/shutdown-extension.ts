/**
 * The layer that makes Lambda send the gateway SIGTERM before it retires a container: Lambda signals the
 * runtime only when an extension is registered, so this ships one that registers for SHUTDOWN and does
 * nothing else (lambda/layers/shutdown-signal: a bash script, ~3 MB and no measurable CPU, so the cold
 * start barely notices it). On that signal the gateway gives its admission leases back
 * (lambda/handlers/shutdown.ts) instead of leaving them for the sweeper to charge in full.
 */
import { join } from 'node:path';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

/** The layer's content: `extensions/tollgate-shutdown-signal` (Lambda runs every file in /opt/extensions). */
export const SHUTDOWN_SIGNAL_LAYER_DIR = join(__dirname, '..', '..', 'lambda', 'layers', 'shutdown-signal');

export class ShutdownSignalLayer extends Construct {
  public readonly layer: lambda.LayerVersion;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.layer = new lambda.LayerVersion(this, 'Layer', {
      code: lambda.Code.fromAsset(SHUTDOWN_SIGNAL_LAYER_DIR),
      // Bash, with the runtime's Node as its fallback: any architecture, the Node.js runtime the functions use.
      compatibleArchitectures: [lambda.Architecture.ARM_64, lambda.Architecture.X86_64],
      compatibleRuntimes: [lambda.Runtime.NODEJS_22_X],
      description: 'Tollgate: an extension registered for SHUTDOWN, so Lambda sends the gateway SIGTERM before retiring a container',
    });
  }
}
