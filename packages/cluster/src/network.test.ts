import { describe, expect, it } from 'vitest';
import { objectPath } from './addons.ts';
import { cniConflist, kubeletConfig, layout } from './config.ts';
import { cidrsOverlap, NETWORK, splitRule } from './network.ts';

describe('cidrsOverlap', () => {
  it('tells overlapping ranges from disjoint ones', () => {
    expect(cidrsOverlap('10.244.0.0/16', '10.244.3.0/24')).toBe(true);
    expect(cidrsOverlap('10.88.0.0/16', '10.244.0.0/16')).toBe(false);
    expect(cidrsOverlap('10.0.0.0/8', '10.96.0.0/16')).toBe(true);
    expect(cidrsOverlap('192.0.2.0/24', '192.0.2.2/32')).toBe(true);
  });

  it('keeps the cluster clear of podman and of each of its own ranges', () => {
    expect(cidrsOverlap(NETWORK.podCidr, '10.88.0.0/16')).toBe(false);
    expect(cidrsOverlap(NETWORK.serviceCidr, '10.88.0.0/16')).toBe(false);
    expect(cidrsOverlap(NETWORK.podCidr, NETWORK.serviceCidr)).toBe(false);
  });
});

describe('splitRule', () => {
  it('keeps a quoted comment as one argument, without its quotes and escapes', () => {
    expect(
      splitRule(
        '-D POSTROUTING -s 10.244.0.5/32 -m comment --comment "name: \\"switchboard-cluster\\" id: \\"abc\\"" -j CNI-1',
      ),
    ).toEqual([
      '-D',
      'POSTROUTING',
      '-s',
      '10.244.0.5/32',
      '-m',
      'comment',
      '--comment',
      'name: "switchboard-cluster" id: "abc"',
      '-j',
      'CNI-1',
    ]);
  });
});

describe('configuration', () => {
  const paths = layout('/srv/cluster');

  it('puts the CNI network on the cluster bridge with host-local leases in the cluster folder', () => {
    const conf = JSON.parse(cniConflist(paths)) as {
      name: string;
      plugins: { type: string; bridge?: string; ipam?: { dataDir: string } }[];
    };
    expect(conf.name).toBe(NETWORK.cniNetwork);
    expect(conf.plugins.map((p) => p.type)).toEqual(['bridge', 'portmap']);
    expect(conf.plugins[0]?.bridge).toBe(NETWORK.bridge);
    expect(conf.plugins[0]?.ipam?.dataDir).toBe('/srv/cluster/cni/ipam');
  });

  it('gives the kubelet the settings this machine needs', () => {
    const text = kubeletConfig(paths);
    expect(text).toContain('cgroupDriver: cgroupfs');
    expect(text).toContain('failCgroupV1: false');
    expect(text).toContain(`address: ${NETWORK.gateway}`);
    expect(text).toContain('podLogsDir: /srv/cluster/pod-logs');
  });

  it('maps manifests to their API paths', () => {
    expect(objectPath({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } })).toBe(
      '/api/v1/namespaces/a',
    );
    expect(
      objectPath({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'n' } }),
    ).toBe('/apis/apps/v1/namespaces/n/deployments/d');
  });
});
