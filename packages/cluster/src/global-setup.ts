// Vitest global setup of the cluster tests (vitest.cluster.config.ts): brings the one-node
// cluster up once for the run and always takes it down at the end, also on SIGINT/SIGTERM.
// The binaries and images are expected to be built already (scripts/check.sh runs
// `cli.ts build` and `make images` first), so no cold build runs inside a hook timeout.
import { clusterUp } from './cluster.ts';
import { clusterDown } from './teardown.ts';

const log = (message: string) => console.warn(`[cluster] ${message}`);

export default async function setup(): Promise<() => Promise<void>> {
  let down: Promise<unknown> | undefined;
  const teardown = async () => {
    down ??= clusterDown({ log });
    await down;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    void teardown().finally(() => process.kill(process.pid, signal));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const cluster = await clusterUp({ log });
  log(
    `cluster ${cluster.reused ? 'reused' : 'up'} in ${cluster.timings.total?.toFixed(1)} s: ${JSON.stringify(cluster.timings)}`,
  );
  return async () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await teardown();
  };
}
