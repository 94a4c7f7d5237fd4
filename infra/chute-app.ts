import { App, type AppProps } from 'aws-cdk-lib';
import { readAppConfig } from './app-config.ts';
import { ChuteStack } from './chute-stack.ts';
import { addNagChecks } from './nag.ts';

/**
 * The ready app: reads the configuration (config file named by the `chute:configFile` context, overridden
 * by `chute:<key>` context values), creates the ChuteStack, and runs cdk-nag on everything. Separate from
 * app.ts so tests build exactly what `cdk synth` builds.
 */
export function createChuteApp(props: AppProps = {}, cwd = process.cwd()): { app: App; stack: ChuteStack } {
  const app = new App(props);
  const config = readAppConfig(app.node, cwd);
  const account = config.account ?? process.env.CDK_DEFAULT_ACCOUNT;
  const region = config.region ?? process.env.CDK_DEFAULT_REGION;
  const stack = new ChuteStack(app, config.stackName, {
    config,
    description: 'chute: files dropped into S3 become rows in ClickHouse',
    ...(account === undefined && region === undefined
      ? {}
      : {
          env: { ...(account === undefined ? {} : { account }), ...(region === undefined ? {} : { region }) },
        }),
  });
  addNagChecks(app);
  return { app, stack };
}
