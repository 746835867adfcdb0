// @switchboard/envtest: a real kube-apiserver (plus etcd) for tests, like controller-runtime's
// envtest, with the helpers tests need around it. Test-only: nothing here belongs in a service.

/** Find (KUBEBUILDER_ASSETS / TEST_ASSET_*), reuse or build kube-apiserver and etcd. */
export {
  type ControlPlaneBinaries,
  type EnsureBinariesOptions,
  ensureControlPlaneBinaries,
  kubeApiserverLdflags,
} from './binaries.ts';
/** A certificate authority and RSA keys for Kubernetes components (here and in packages/cluster). */
export {
  type CertificateAndKey,
  CertificateAuthority,
  type CertificateRequest,
  type RsaKeyPair,
  rsaKeyPair,
} from './certs.ts';
/** Start and stop an etcd + kube-apiserver pair of your own. */
export {
  type ControlPlane,
  type KubernetesVersionInfo,
  type StartControlPlaneOptions,
  startControlPlane,
} from './control-plane.ts';
/** Install CustomResourceDefinitions and wait until they are Established. */
export { type InstallCrdsOptions, installCrds } from './crds.ts';
/** The error this package throws, with a stable code. */
export { EnvtestError, type EnvtestErrorCode } from './errors.ts';
/** Running commands, the cache root and the build lock, shared with packages/cluster's builds. */
export { type RunOptions, type RunResult, run, tail } from './exec.ts';
/**
 * The one Go builder of the tools (cache, stamp, lock, staging): each binary a declaration, here
 * and in packages/cluster, packages/testing (Vault, Jaeger) and packages/devloop (Tilt).
 */
export {
  type EnsureGoBuildOptions,
  ensureGoBinary,
  ensureGoBuild,
  findOnPath,
  type GoBinary,
  type GoBinaryBuild,
  type GoBinaryRecipe,
  type GoBuild,
  type GoBuildContext,
  type GoBuildResult,
  goBinaryPaths,
  goBuildFingerprint,
  goBuildPaths,
  isExecutable,
  withoutGoSumLines,
} from './go-build.ts';
/** Render a chart with helm and validate it with a server-side dry run. */
export { type HelmDryRunOptions, type HelmDryRunResult, helmTemplateAndDryRun } from './helm.ts';
/** Raw requests to the API server with a KubeConfig's credentials. */
export { type KubeRequest, type KubeResponse, kubeRequest, kubeRequestOk } from './http.ts';
/** A KubeConfig that acts as a service account, to test RBAC rules. */
export { type ImpersonateOptions, impersonate } from './impersonate.ts';
export { type FileLockOptions, withFileLock } from './lock.ts';
/** A uniquely named namespace per test. */
export { createTestNamespace, TEST_NAMESPACE_LABEL, type TestNamespace } from './namespaces.ts';
export { cacheRoot, type EnvtestEnv } from './paths.ts';
/** The control plane started by global-setup.ts, from inside a test file. */
export {
  type SharedControlPlane,
  type SharedControlPlaneInfo,
  useControlPlane,
} from './shared-control-plane.ts';
/** TEST-ONLY stand-ins for the missing kube-controller-manager controllers. */
export {
  type CollectedObject,
  type CollectGarbageOptions,
  collectGarbage,
  completeJob,
  type FailJobOptions,
  failJob,
  markDeploymentAvailable,
  markStatefulSetReady,
  type ObjectRef,
} from './test-controllers.ts';
/** helm and kubectl binaries for tests. */
export { type CliTools, ensureTools } from './tools.ts';
/** The pinned Kubernetes and etcd versions. */
export { ETCD_VERSION, KUBERNETES_VERSION } from './versions.ts';
