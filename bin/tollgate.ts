/**
 * CDK app entry: validate the config once (TOLLGATE_CONFIG or ./tollgate.config.json), build the stack,
 * and run cdk-nag's AwsSolutions pack as a synthesis validation plugin, so `cdk synth` fails on any
 * finding that is not acknowledged with a reason next to the resource it concerns.
 *
 *   npx cdk synth                          # stack "Tollgate"
 *   npx cdk deploy -c stackName=TollgateDev
 *   TOLLGATE_CONFIG=./my.config.json npx cdk deploy
 */
import { resolve } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DEFAULT_CONFIG_PATH, loadConfigFile } from '../lambda/config-loader';
import { TollgateStack } from '../lib/gateway-stack';
import { resolveStackName } from '../lib/settings';

const configPath = process.env.TOLLGATE_CONFIG ? resolve(process.env.TOLLGATE_CONFIG) : DEFAULT_CONFIG_PATH;
const settings = loadConfigFile(configPath);

const app = new App();
const stackName = resolveStackName(app.node.tryGetContext('stackName'), process.env);
new TollgateStack(app, stackName, {
  settings,
  description: 'Tollgate: serverless OpenAI-compatible LLM gateway with metering, limits and budgets',
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
