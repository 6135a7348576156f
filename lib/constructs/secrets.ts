/**
 * The provider-keys secret: one JSON object, a field per provider that needs an API key (field name =
 * provider id, e.g. `{"openai":"","anthropic":""}`). It is created with empty values; after the first
 * deploy the user fills it in:
 *
 *   aws secretsmanager put-secret-value --secret-id <ProviderSecretArn> \
 *     --secret-string '{"openai":"sk-...","anthropic":"sk-ant-..."}'
 *
 * The function caches the secret for a short max age, so filled-in or changed keys are picked up without
 * a redeploy. A provider whose field is missing or empty is skipped (fallback to the next target).
 *
 * Caveat: CloudFormation writes SecretString again whenever the template value changes, i.e. when a
 * provider with an API key is added to or removed from the config; re-enter the keys after such a deploy.
 */
import { SecretValue, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

export interface ProviderSecretsProps {
  /** Provider ids that need a key: one (empty) field each. */
  readonly providerIds: readonly string[];
}

export class ProviderSecrets extends Construct {
  public readonly secret: secretsmanager.ISecret;

  constructor(scope: Construct, id: string, props: ProviderSecretsProps) {
    super(scope, id);
    const placeholder: Record<string, SecretValue> = {};
    // An empty string is a placeholder, not a secret: no real key ever enters the template.
    for (const providerId of props.providerIds) placeholder[providerId] = SecretValue.unsafePlainText('');
    const secret = new secretsmanager.Secret(this, 'ProviderKeys', {
      description:
        'Tollgate upstream provider API keys: a JSON object with one field per provider id. Fill in after deploy.',
      secretObjectValue: placeholder,
    });
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Third-party provider API keys (OpenAI, Anthropic, ...) cannot be rotated by a Lambda in this account; ' +
        'the owner rotates them at the provider and puts the new value, which the gateway picks up within its cache age.',
    });
    this.secret = secret;
  }

  public grantRead(grantee: iam.IGrantable): iam.Grant {
    return this.secret.grantRead(grantee);
  }
}
