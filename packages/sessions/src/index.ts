// @switchboard/sessions: who holds which WhatsApp session. Redis leases for efficiency, a
// Postgres fencing epoch for correctness, balanced claiming across a tenant's workers.

/** Balanced claiming, renewal, deadlines and hand-over of a worker's share of sessions. */
export {
  type ClaimerClock,
  type OwnedSession,
  type ReleaseReason,
  SessionClaimer,
  type SessionClaimerOptions,
} from './claimer.ts';
/** Errors with stable codes; StaleEpochError refuses writes of a superseded owner. */
export { SessionsError, type SessionsErrorCode, StaleEpochError } from './errors.ts';
/** Fencing epochs: claimed in Postgres, mirrored in a Redis fence, checked by every write. */
export {
  assertFence,
  claimEpoch,
  currentFence,
  raiseFence,
  type SessionFence,
  type SessionStateUpdate,
  updateSessionState,
} from './fence.ts';
/** The Redis key layout shared with packages/channels (lease, fence, auth hash). */
export { type SessionKeys, sessionKeys, workersKey } from './keys.ts';
/** Lease primitives: SET NX PX, compare-and-renew, compare-and-delete. */
export { acquireLease, leaseHolder, ownerToken, releaseLease, renewLease, renewLeases } from './lease.ts';
/** Worker liveness by heartbeat, and the fair share it implies. */
export { fairShare, heartbeat, leave, liveWorkers } from './membership.ts';
/** WAIT for replicas after writes a Sentinel failover must not lose. */
export { type ReplicationOutcome, type ReplicaWaitPolicy, waitForReplicas } from './replication.ts';
