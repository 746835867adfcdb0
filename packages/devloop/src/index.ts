// @switchboard/devloop: the development loop on the one-node cluster (`make dev`, the Tiltfile):
// the Tilt binary built from its Go module, importing dev images into the cluster, syncing
// changed sources into the pods, the Ingress at a localhost URL. A development tool: the
// product never imports it. The dev images' entrypoint is in src/container/.

export { type IngressProxyOptions, startIngressProxy } from './proxy.ts';
export {
  copyIntoPod,
  isSyncedSource,
  runningPods,
  SYNC_DIR,
  type SyncLoopOptions,
  type SyncTarget,
  startSyncLoop,
  WATCHED,
} from './sync.ts';
export {
  type EnsureTiltBinaryOptions,
  ensureTiltBinary,
  GO_SUM_OVERRIDES,
  TILT_VERSION,
  type TiltBinary,
  type TiltBinaryEnv,
  tiltCachePaths,
  tiltFingerprint,
  withoutOverriddenSums,
} from './tilt-binary.ts';
