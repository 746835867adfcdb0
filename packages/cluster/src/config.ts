import { join } from 'node:path';
import { stringify } from 'yaml';
import { CLUSTER_IMAGES } from './images.ts';
import { CLUSTER_DOMAIN, NETWORK, NODE_NAME, PORTS } from './network.ts';

/** Every path inside the cluster's folder. */
export function layout(dir: string) {
  const pki = join(dir, 'pki');
  return {
    dir,
    pki,
    caCert: join(pki, 'ca.crt'),
    caKey: join(pki, 'ca.key'),
    saPub: join(pki, 'sa.pub'),
    saKey: join(pki, 'sa.key'),
    etcdData: join(dir, 'etcd'),
    containerdRoot: join(dir, 'containerd', 'root'),
    containerdState: join(dir, 'containerd', 'state'),
    containerdConfig: join(dir, 'containerd', 'config.toml'),
    containerdSocket: join(dir, 'containerd', 'containerd.sock'),
    cniConfDir: join(dir, 'cni', 'net.d'),
    cniIpamDir: join(dir, 'cni', 'ipam'),
    kubeletRoot: join(dir, 'kubelet'),
    kubeletConfig: join(dir, 'config', 'kubelet.yaml'),
    kubeletResolvConf: join(dir, 'config', 'resolv.conf'),
    kubeProxyConfig: join(dir, 'config', 'kube-proxy.yaml'),
    /** The admin kubeconfig printed by cluster-up (`export KUBECONFIG=...`). */
    adminKubeconfig: join(dir, 'kubeconfig'),
    kubeconfig: (component: string) => join(dir, 'config', `${component}.kubeconfig`),
    cert: (name: string) => join(pki, `${name}.crt`),
    key: (name: string) => join(pki, `${name}.key`),
  };
}
export type Layout = ReturnType<typeof layout>;

export const API_SERVER_URL = `https://${NETWORK.gateway}:${PORTS.apiServer}`;

/** A kubeconfig for one client certificate. */
export function kubeconfigYaml(user: string, caPem: string, cert: string, key: string): string {
  const b64 = (pem: string) => Buffer.from(pem).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: 'switchboard', cluster: { server: API_SERVER_URL, 'certificate-authority-data': b64(caPem) } },
    ],
    users: [{ name: user, user: { 'client-certificate-data': b64(cert), 'client-key-data': b64(key) } }],
    contexts: [{ name: 'switchboard', context: { cluster: 'switchboard', user } }],
    'current-context': 'switchboard',
  });
}

/** containerd 1.6 (config version 2), everything under the cluster's folder. */
export function containerdConfig(paths: Layout): string {
  return `# Written by packages/cluster (cluster-up); containerd 1.6, config version 2.
version = 2
root = "${paths.containerdRoot}"
state = "${paths.containerdState}"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = "${paths.containerdSocket}"

[ttrpc]
  address = "${paths.containerdSocket}.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "${join(paths.dir, 'containerd', 'opt')}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${CLUSTER_IMAGES.pause}"
  # Without CAP_SYS_RESOURCE runc cannot lower oom_score_adj; without this every sandbox fails
  # with "can't get final child's PID from pipe".
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "${join(paths.dir, 'containerd', 'runc')}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${paths.cniConfDir}"
`;
}

/** The CNI network: a bridge with host-local addresses, then portmap. */
export function cniConflist(paths: Layout): string {
  return `${JSON.stringify(
    {
      cniVersion: '0.4.0',
      name: NETWORK.cniNetwork,
      plugins: [
        {
          type: 'bridge',
          bridge: NETWORK.bridge,
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: NETWORK.nodePodCidr, gateway: NETWORK.gateway }]],
            routes: [{ dst: '0.0.0.0/0' }],
            dataDir: paths.cniIpamDir,
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  )}\n`;
}

/** KubeletConfiguration: the settings checked on this machine (see the package README). */
export function kubeletConfig(paths: Layout): string {
  return stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // The node's address is the bridge's own (the kubelet refuses a loopback node IP); the API
    // server reaches the kubelet there for logs, exec and port-forward.
    address: NETWORK.gateway,
    port: PORTS.kubelet,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: PORTS.kubeletHealthz,
    tlsCertFile: paths.cert('kubelet-serving'),
    tlsPrivateKeyFile: paths.key('kubelet-serving'),
    // Only clients with a certificate from the cluster CA (the API server's kubelet client
    // certificate) get in; anything they ask is allowed.
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: false },
      x509: { clientCAFile: paths.caCert },
    },
    authorization: { mode: 'AlwaysAllow' },
    // cgroups are v1 (hybrid) here and there is no systemd.
    cgroupDriver: 'cgroupfs',
    failCgroupV1: false,
    failSwapOn: false,
    containerRuntimeEndpoint: `unix://${paths.containerdSocket}`,
    clusterDNS: [NETWORK.dnsServiceIp],
    clusterDomain: CLUSTER_DOMAIN,
    // Pods with dnsPolicy Default get no name servers: nothing outside the cluster is reachable.
    resolvConf: paths.kubeletResolvConf,
    // Container logs under the cluster's folder, not /var/log/pods.
    podLogsDir: join(paths.dir, 'pod-logs'),
    enforceNodeAllocatable: [],
    evictionHard: {},
    localStorageCapacityIsolation: false,
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
    rotateCertificates: false,
    serverTLSBootstrap: false,
    // Status every 10 s (the default is 5 min with lease-based heartbeats); Ready shows quickly.
    nodeStatusReportFrequency: '10s',
  });
}

/** KubeProxyConfiguration: iptables mode, loopback only, no sysctl changes. */
export function kubeProxyConfig(paths: Layout): string {
  return stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'iptables',
    clientConnection: { kubeconfig: paths.kubeconfig('kube-proxy') },
    hostnameOverride: NODE_NAME,
    bindAddress: '127.0.0.1',
    healthzBindAddress: `127.0.0.1:${PORTS.kubeProxyHealthz}`,
    metricsBindAddress: `127.0.0.1:${PORTS.kubeProxyMetrics}`,
    clusterCIDR: NETWORK.podCidr,
    // 0 leaves the machine's conntrack sysctls as they are.
    conntrack: {
      maxPerCore: 0,
      min: 0,
      tcpEstablishedTimeout: '0s',
      tcpCloseWaitTimeout: '0s',
    },
    iptables: { localhostNodePorts: false },
    nodePortAddresses: [`${NETWORK.gateway}/32`],
  });
}

export function etcdArgs(paths: Layout): string[] {
  const client = `http://127.0.0.1:${PORTS.etcdClient}`;
  const peer = `http://127.0.0.1:${PORTS.etcdPeer}`;
  return [
    '--name=switchboard',
    `--data-dir=${paths.etcdData}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=switchboard=${peer}`,
    '--listen-metrics-urls=',
    // A development cluster, wiped by cluster-down: fsync buys nothing and costs a lot.
    '--unsafe-no-fsync',
    '--log-level=warn',
  ];
}

export function apiServerArgs(paths: Layout): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${PORTS.etcdClient}`,
    `--bind-address=${NETWORK.gateway}`,
    `--advertise-address=${NETWORK.gateway}`,
    `--secure-port=${PORTS.apiServer}`,
    `--cert-dir=${join(paths.dir, 'apiserver')}`,
    `--tls-cert-file=${paths.cert('apiserver')}`,
    `--tls-private-key-file=${paths.key('apiserver')}`,
    `--client-ca-file=${paths.caCert}`,
    `--service-cluster-ip-range=${NETWORK.serviceCidr}`,
    '--allow-privileged=true',
    '--authorization-mode=Node,RBAC',
    '--enable-admission-plugins=NodeRestriction',
    '--anonymous-auth=true',
    `--service-account-issuer=https://kubernetes.default.svc.${CLUSTER_DOMAIN}`,
    `--service-account-key-file=${paths.saPub}`,
    `--service-account-signing-key-file=${paths.saKey}`,
    `--kubelet-client-certificate=${paths.cert('apiserver-kubelet-client')}`,
    `--kubelet-client-key=${paths.key('apiserver-kubelet-client')}`,
    `--kubelet-certificate-authority=${paths.caCert}`,
    // The node's InternalIP is 127.0.0.1 (logs, exec and port-forward go there), never a name.
    '--kubelet-preferred-address-types=InternalIP',
    '--profiling=false',
  ];
}

export function controllerManagerArgs(paths: Layout): string[] {
  const kubeconfig = paths.kubeconfig('kube-controller-manager');
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${PORTS.controllerManager}`,
    `--cert-dir=${join(paths.dir, 'kube-controller-manager')}`,
    `--cluster-signing-cert-file=${paths.caCert}`,
    `--cluster-signing-key-file=${paths.caKey}`,
    `--root-ca-file=${paths.caCert}`,
    `--service-account-private-key-file=${paths.saKey}`,
    '--use-service-account-credentials=true',
    '--allocate-node-cidrs=true',
    `--cluster-cidr=${NETWORK.podCidr}`,
    '--node-cidr-mask-size=24',
    `--service-cluster-ip-range=${NETWORK.serviceCidr}`,
    '--leader-elect=false',
    '--profiling=false',
  ];
}

export function schedulerArgs(paths: Layout): string[] {
  const kubeconfig = paths.kubeconfig('kube-scheduler');
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${PORTS.scheduler}`,
    `--cert-dir=${join(paths.dir, 'kube-scheduler')}`,
    '--leader-elect=false',
    '--profiling=false',
  ];
}

export function kubeletArgs(paths: Layout): string[] {
  return [
    `--config=${paths.kubeletConfig}`,
    `--kubeconfig=${paths.kubeconfig('kubelet')}`,
    `--root-dir=${paths.kubeletRoot}`,
    `--cert-dir=${join(paths.kubeletRoot, 'pki')}`,
    `--hostname-override=${NODE_NAME}`,
    `--node-ip=${NETWORK.gateway}`,
    '--v=1',
  ];
}

export function kubeProxyArgs(paths: Layout): string[] {
  return [`--config=${paths.kubeProxyConfig}`, '--v=1'];
}

/** kube-router as the NetworkPolicy controller only (no routing, no service proxy, no CNI). */
export function kubeRouterArgs(paths: Layout): string[] {
  return [
    `--kubeconfig=${paths.kubeconfig('kube-router')}`,
    '--run-firewall=true',
    '--run-router=false',
    '--run-service-proxy=false',
    '--enable-cni=false',
    `--hostname-override=${NODE_NAME}`,
    `--service-cluster-ip-range=${NETWORK.serviceCidr}`,
    // Its health and metrics servers would listen on every interface; both stay off.
    '--health-port=0',
    '--metrics-port=0',
    '--v=1',
  ];
}
