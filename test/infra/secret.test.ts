import { Readable } from 'node:stream';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { readClickHouseSecret, secretRegion } from '../../functions/core/config/secret.ts';
import { isChuteError } from '../../functions/core/errors.ts';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:chute/clickhouse-AbCdEf';

interface SeenRequest {
  target: string | undefined;
  body: unknown;
}

/**
 * A real SecretsManagerClient (serializer, signer, deserializer, error parsing) whose HTTP handler
 * answers from memory: the unit under test is the secret's validation, not the network.
 */
function fakeClient(status: number, body: unknown, headers: Record<string, string> = {}) {
  const seen: SeenRequest[] = [];
  const client = new SecretsManagerClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    maxAttempts: 1,
    requestHandler: {
      handle: async (request: { headers: Record<string, string>; body?: unknown }) => {
        seen.push({
          target: request.headers['x-amz-target'],
          body: JSON.parse(
            typeof request.body === 'string'
              ? request.body
              : Buffer.from(request.body as Uint8Array).toString(),
          ),
        });
        return {
          response: {
            statusCode: status,
            reason: '',
            headers: { 'content-type': 'application/x-amz-json-1.1', ...headers },
            body: Readable.from([Buffer.from(JSON.stringify(body))]),
          },
        };
      },
      updateHttpClientConfig: () => {},
      httpHandlerConfigs: () => ({}),
    },
  });
  return { client, seen };
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('readClickHouseSecret', () => {
  it('reads username and password from the JSON secret with one GetSecretValue call', async () => {
    const { client, seen } = fakeClient(200, {
      ARN,
      Name: 'chute/clickhouse',
      SecretString: JSON.stringify({ username: 'loader', password: 's3cr3t', host: 'ignored' }),
    });
    await expect(readClickHouseSecret(ARN, client)).resolves.toEqual({
      username: 'loader',
      password: 's3cr3t',
    });
    expect(seen).toEqual([{ target: 'secretsmanager.GetSecretValue', body: { SecretId: ARN } }]);
  });

  it('accepts an empty password (a local default user)', async () => {
    const { client } = fakeClient(200, { SecretString: '{"username":"default","password":""}' });
    await expect(readClickHouseSecret(ARN, client)).resolves.toEqual({ username: 'default', password: '' });
  });

  it('names the secret and the missing field, and never the values', async () => {
    const { client } = fakeClient(200, {
      SecretString: JSON.stringify({ user: 'loader', password: 'hunter2' }),
    });
    const error = await failure(readClickHouseSecret(ARN, client));
    expect(isChuteError(error, 'CONFIG_INVALID')).toBe(true);
    expect(error.message).toContain(ARN);
    expect(error.message).toMatch(/username: .*expected string/);
    expect(error.message).not.toContain('hunter2');
    expect(error.message).not.toContain('loader');
  });

  it('rejects a password of the wrong type without echoing it', async () => {
    const { client } = fakeClient(200, {
      SecretString: JSON.stringify({ username: 'loader', password: 987654 }),
    });
    const error = await failure(readClickHouseSecret(ARN, client));
    expect(error.message).toMatch(/password: .*expected string/);
    expect(error.message).not.toContain('987654');
  });

  it('rejects a secret that is not JSON without quoting it', async () => {
    const { client } = fakeClient(200, { SecretString: 'loader:hunter2' });
    const error = await failure(readClickHouseSecret(ARN, client));
    expect(isChuteError(error, 'CONFIG_INVALID')).toBe(true);
    expect(error.message).toContain('SecretString is not JSON');
    expect(error.message).not.toContain('hunter2');
  });

  it('rejects a binary secret', async () => {
    const { client } = fakeClient(200, { SecretBinary: Buffer.from('x').toString('base64') });
    const error = await failure(readClickHouseSecret(ARN, client));
    expect(error.message).toContain('has no SecretString');
  });

  it('turns a missing secret into CONFIG_INVALID naming the ARN and the SDK error', async () => {
    const { client } = fakeClient(
      400,
      { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." },
      { 'x-amzn-errortype': 'ResourceNotFoundException' },
    );
    const error = await failure(readClickHouseSecret(ARN, client));
    expect(isChuteError(error, 'CONFIG_INVALID')).toBe(true);
    expect(error.message).toContain(ARN);
    expect(error.message).toContain('ResourceNotFoundException');
  });

  it('rethrows a transient SDK error unchanged so Lambda retries the event', async () => {
    const { client } = fakeClient(
      500,
      { __type: 'InternalServiceError', message: 'try again' },
      { 'x-amzn-errortype': 'InternalServiceError' },
    );
    const error = await failure(readClickHouseSecret(ARN, client));
    expect(isChuteError(error)).toBe(false);
    expect(error.name).toBe('InternalServiceError');
  });

  it('refuses an empty ARN before calling AWS', async () => {
    const { client, seen } = fakeClient(200, {});
    const error = await failure(readClickHouseSecret('  ', client));
    expect(error.message).toContain('CLICKHOUSE_SECRET_ARN');
    expect(seen).toHaveLength(0);
  });
});

describe('secretRegion', () => {
  it('reads the region of a secret ARN, in any partition', () => {
    expect(secretRegion(ARN)).toBe('eu-west-1');
    expect(secretRegion('arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:x-AbCdEf')).toBe(
      'us-gov-west-1',
    );
    expect(secretRegion('chute/clickhouse')).toBeUndefined();
  });
});
