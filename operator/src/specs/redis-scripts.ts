import type { V1ConfigMap } from '@kubernetes/client-node';
import type { WhatsAppTenant } from '../api/v1alpha1/index.ts';
import { childNames } from './names.ts';
import { childMetadata } from './owner-reference.ts';

/**
 * Start and probe scripts of the tenant's Redis and Sentinel pods (POSIX sh, run by the Redis
 * image's own shell, with redis-cli and timeout from the image).
 *
 * The problem they solve: a Redis pod that restarts must not decide its role on its own. After a
 * failover the primary can be any ordinal; a pod that came back as primary because "I am pod 0"
 * would take writes the real primary never sees, and Sentinel would later throw them away. So a
 * starting Redis asks, in order of trust:
 *   1. the Sentinels (`SENTINEL get-master-addr-by-name mymaster`): they track failovers;
 *   2. the other Redis pods (`ROLE`): one that is a primary is the primary, which covers all
 *      Sentinels restarting at once;
 *   3. nobody knows: this is a new group, so ordinal 0 starts as the primary and every other pod
 *      replicates it.
 * A starting Sentinel does the same to pick the primary to monitor. Every name is a stable pod
 * DNS name (`<sts>-<n>.<sts>.<ns>.svc.<domain>`), and Sentinel runs with resolve-hostnames and
 * announce-hostnames, so pod IPs changing on restart confuse nobody.
 *
 * Inputs come as environment variables (set by the StatefulSets): HOSTNAME (the pod name),
 * NAMESPACE, CLUSTER_DOMAIN, REDIS_NAME and SENTINEL_NAME (each StatefulSet's name, also its
 * headless Service's), REPLICAS, MASTER_NAME, QUORUM (Sentinel only), the ACL users'
 * passwords and rules (REDIS_PASSWORD for `admin`, REDIS_<ROLE>_PASSWORD, REDIS_ACL_<ROLE>,
 * SENTINEL_ACL_<ROLE>: redisAclEnv in redis.ts), and REDISCLI_USER / REDISCLI_AUTH (redis-cli
 * runs as `sentinel`); Redis only: MAXMEMORY (bytes), MAXMEMORY_POLICY, MIN_REPLICAS_TO_WRITE and
 * MIN_REPLICAS_MAX_LAG (see redisServerEnv in redis.ts). CONFIG_DIR / SENTINEL_DIR override where
 * config is written (tests).
 *
 * ACL users (packages/redis's acl.ts): the `default` user is off on Redis and on the Sentinels;
 * replicas authenticate to the primary as `replication` (every node has masteruser, since a
 * failover makes any of them a replica), Sentinels to Redis and to each other as `sentinel`, the
 * API and workers as `api` and `worker` on both. Redis does not replicate ACL users: each node
 * gets every user from its own redis.conf.
 *
 * In the TypeScript below, `\${` is a literal `${` in the script.
 */

// redis-cli as the `sentinel` user (password in REDISCLI_AUTH, never on the command line).
const CLI = 'redis-cli --user "$REDISCLI_USER"';

// A host name as Sentinel reports it; anything else (nil, an error text) is not an answer.
const IS_HOST = `is_host() {
  case "$1" in
    '' | *[!a-z0-9.-]*) return 1 ;;
    *) return 0 ;;
  esac
}`;

const ASK_SENTINELS = `i=0
while [ -z "$master" ] && [ "$i" -lt "$REPLICAS" ]; do
  if [ "$i" != "$skip_sentinel" ]; then
    answer="$(timeout 3 ${CLI} --raw -h "$SENTINEL_NAME-$i.$SENTINEL_NAME.$domain" -p 26379 SENTINEL get-master-addr-by-name "$MASTER_NAME" 2>/dev/null | head -n 1 || true)"
    if is_host "$answer"; then master="$answer"; fi
  fi
  i=$((i + 1))
done`;

const ASK_PEERS = `i=0
while [ -z "$master" ] && [ "$i" -lt "$REPLICAS" ]; do
  peer="$REDIS_NAME-$i.$REDIS_NAME.$domain"
  if [ "$peer" != "$self" ]; then
    role="$(timeout 3 ${CLI} --raw -h "$peer" -p 6379 ROLE 2>/dev/null | head -n 1 || true)"
    if [ "$role" = master ]; then master="$peer"; fi
  fi
  i=$((i + 1))
done`;

/** Starts redis-server as the primary or as a replica of the current primary. */
export const REDIS_START_SCRIPT = `#!/bin/sh
# Starts Redis as the primary or as a replica of the current primary: see redis-scripts.ts.
set -eu

domain="$NAMESPACE.svc.$CLUSTER_DOMAIN"
self="$HOSTNAME.$REDIS_NAME.$domain"
ordinal="\${HOSTNAME##*-}"
config="\${CONFIG_DIR:-/tmp}/redis.conf"
skip_sentinel=none
${IS_HOST}

master=''
# 1. The Sentinels know the current primary, whatever failovers happened.
${ASK_SENTINELS}
# 2. No Sentinel answers (all restarting): a peer that is a primary is the primary.
${ASK_PEERS}
# 3. Nobody knows: a new group. Ordinal 0 is the first primary; the others replicate it.
if [ -z "$master" ] && [ "$ordinal" != 0 ]; then
  master="$REDIS_NAME-0.$REDIS_NAME.$domain"
fi

cat > "$config" <<EOF
bind * -::*
port 6379
dir /data
appendonly yes
user default off
user admin on >$REDIS_PASSWORD $REDIS_ACL_ADMIN
user api on >$REDIS_API_PASSWORD $REDIS_ACL_API
user worker on >$REDIS_WORKER_PASSWORD $REDIS_ACL_WORKER
user replication on >$REDIS_REPLICATION_PASSWORD $REDIS_ACL_REPLICATION
user sentinel on >$REDIS_SENTINEL_PASSWORD $REDIS_ACL_SENTINEL
masteruser replication
masterauth $REDIS_REPLICATION_PASSWORD
replica-announce-ip $self
replica-announce-port 6379
maxmemory \${MAXMEMORY:-0}
maxmemory-policy \${MAXMEMORY_POLICY:-noeviction}
min-replicas-to-write \${MIN_REPLICAS_TO_WRITE:-0}
min-replicas-max-lag \${MIN_REPLICAS_MAX_LAG:-10}
EOF
if [ -n "$master" ] && [ "$master" != "$self" ]; then
  echo "replicaof $master 6379" >> "$config"
  echo "starting as a replica of $master"
else
  echo "starting as the primary"
fi
exec redis-server "$config"
`;

/**
 * Readiness of a Redis pod: it answers, and a replica's link to the primary is up (a replica
 * still loading the primary's data must not be counted on).
 */
export const REDIS_READY_SCRIPT = `#!/bin/sh
set -eu
info="$(timeout 2 ${CLI} -p 6379 INFO replication)"
case "$info" in
  *role:master*) exit 0 ;;
  *master_link_status:up*) exit 0 ;;
esac
exit 1
`;

/** Starts redis-sentinel monitoring the current primary. */
export const SENTINEL_START_SCRIPT = `#!/bin/sh
# Starts a Sentinel that monitors the current primary: see redis-scripts.ts.
set -eu

# After a container restart the volume still holds the config Sentinel rewrote with what it
# learned (epoch, replicas, the other Sentinels): keep it, and ask nobody.
config="\${SENTINEL_DIR:-/data}/sentinel.conf"
if [ -s "$config" ]; then
  exec redis-sentinel "$config"
fi

domain="$NAMESPACE.svc.$CLUSTER_DOMAIN"
self="$HOSTNAME.$SENTINEL_NAME.$domain"
skip_sentinel="\${HOSTNAME##*-}"
${IS_HOST}

master=''
# 1. The other Sentinels' view of the primary.
${ASK_SENTINELS}
# 2. A Redis pod that is a primary.
${ASK_PEERS}
# 3. A new group: ordinal 0.
if [ -z "$master" ]; then
  master="$REDIS_NAME-0.$REDIS_NAME.$domain"
fi

# Sentinel refuses to start when the primary's name does not resolve yet; give the pod up to
# two minutes to appear (the headless Service publishes not-ready pods, so an IP is enough).
tries=0
until [ "$(timeout 2 ${CLI} --raw -h "$master" -p 6379 PING 2>/dev/null || true)" = PONG ] || [ "$tries" -ge 60 ]; do
  tries=$((tries + 1))
  sleep 2
done

cat > "$config" <<EOF
port 26379
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $self
sentinel announce-port 26379
user default off
user admin on >$REDIS_PASSWORD $SENTINEL_ACL_ADMIN
user sentinel on >$REDIS_SENTINEL_PASSWORD $SENTINEL_ACL_SENTINEL
user api on >$REDIS_API_PASSWORD $SENTINEL_ACL_API
user worker on >$REDIS_WORKER_PASSWORD $SENTINEL_ACL_WORKER
sentinel sentinel-user sentinel
sentinel sentinel-pass $REDIS_SENTINEL_PASSWORD
sentinel monitor $MASTER_NAME $master 6379 $QUORUM
sentinel auth-user $MASTER_NAME sentinel
sentinel auth-pass $MASTER_NAME $REDIS_SENTINEL_PASSWORD
sentinel down-after-milliseconds $MASTER_NAME 5000
sentinel failover-timeout $MASTER_NAME 60000
sentinel parallel-syncs $MASTER_NAME 1
EOF
echo "monitoring $master"
exec redis-sentinel "$config"
`;

/**
 * Readiness of a Sentinel: it knows the primary's address. Before that a client asking it for
 * the primary would get nothing, so it must not be in rotation.
 */
export const SENTINEL_READY_SCRIPT = `#!/bin/sh
set -eu
answer="$(timeout 2 ${CLI} --raw -p 26379 SENTINEL get-master-addr-by-name "$MASTER_NAME" | head -n 1)"
case "$answer" in
  '' | *[!a-z0-9.-]*) exit 1 ;;
esac
`;

/** Script file names in the ConfigMap, mounted at /scripts. */
export const REDIS_SCRIPTS = {
  'redis-start.sh': REDIS_START_SCRIPT,
  'redis-ready.sh': REDIS_READY_SCRIPT,
  'sentinel-start.sh': SENTINEL_START_SCRIPT,
  'sentinel-ready.sh': SENTINEL_READY_SCRIPT,
} as const;

/** Where the scripts ConfigMap is mounted. */
export const SCRIPTS_MOUNT_PATH = '/scripts';

/** The ConfigMap holding the scripts. */
export function buildRedisScriptsConfigMap(tenant: WhatsAppTenant): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: childMetadata(tenant, childNames(tenant).redisScripts, 'redis'),
    data: { ...REDIS_SCRIPTS },
  };
}
