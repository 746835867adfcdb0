import {
  CreateSecretCommand,
  DeleteSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { freePort, waitForPort } from './ports.ts';
import { type ServiceProcess, startProcess } from './processes.ts';

/** A running moto server: AWS's APIs (S3, Secrets Manager, ...) on loopback, in memory. */
export interface RunningMoto {
  /** `http://127.0.0.1:<port>`: the endpoint of every service moto emulates. */
  endpoint: string;
  region: string;
  /** moto accepts any credentials; static ones keep the AWS SDK away from its default chain. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  pid: number;
  /** A Secrets Manager client on the endpoint, for seeding and rotating secrets directly. */
  secretsManager: SecretsManagerClient;
  /** Creates a secret with a string value. */
  createSecret(name: string, value: string): Promise<void>;
  /** Stores a new current version of a secret: what a rotation does. */
  putSecretValue(name: string, value: string): Promise<void>;
  /** Deletes a secret at once (no recovery window). */
  deleteSecret(name: string): Promise<void>;
  /** The last lines the server printed. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts `$SWITCHBOARD_MOTO_SERVER -H 127.0.0.1 -p <free port>` (moto is installed by
 * scripts/toolchain.sh, which exports the variable); fails, never skips, when it is not
 * installed. Tracked like every test server: stopped by `stop()`, killed on exit.
 */
export async function startMoto(
  options: { env?: Readonly<Record<string, string | undefined>> } = {},
): Promise<RunningMoto> {
  const env = options.env ?? process.env;
  const server = env.SWITCHBOARD_MOTO_SERVER;
  if (!server) {
    throw new Error(
      'SWITCHBOARD_MOTO_SERVER is not set: run `make install` (scripts/toolchain.sh installs moto and exports it)',
    );
  }
  const port = await freePort();
  const service: ServiceProcess = startProcess({
    name: 'moto',
    command: server,
    args: ['-H', '127.0.0.1', '-p', String(port)],
    env: { PATH: env.PATH ?? '', HOME: env.HOME ?? '/tmp' },
  });
  const exited = new Promise<never>((_, reject) =>
    service.child.once('exit', (code) =>
      reject(new Error(`moto exited with ${code} before listening:\n${service.output()}`)),
    ),
  );
  exited.catch(() => {});
  try {
    await Promise.race([waitForPort(port, { timeoutMs: 30_000 }), exited]);
  } catch (error) {
    await service.stop();
    throw error;
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const region = 'us-east-1';
  const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
  const secretsManager = new SecretsManagerClient({ endpoint, region, credentials });
  return {
    endpoint,
    region,
    credentials,
    pid: service.pid,
    secretsManager,
    async createSecret(name, value) {
      await secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: value }));
    },
    async putSecretValue(name, value) {
      await secretsManager.send(new PutSecretValueCommand({ SecretId: name, SecretString: value }));
    },
    async deleteSecret(name) {
      await secretsManager.send(
        new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }),
      );
    },
    output: () => service.output(),
    async stop() {
      secretsManager.destroy();
      await service.stop();
    },
  };
}
