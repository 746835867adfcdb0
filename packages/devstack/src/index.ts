/** The whole platform on one machine with no cluster, for `make demo`, browser tests and benchmarks. */
export {
  DEFAULT_INBOX_DIR,
  type RoleUser,
  type Stack,
  type StackOptions,
  StackProcessError,
  type StackTenant,
  type StackTenantOptions,
  stackOptionsSchema,
  startStack,
} from './stack.ts';
