// Password hashing for user accounts: scrypt from node:crypto, self-describing stored hashes.
export {
  DEFAULT_SCRYPT_PARAMETERS,
  hashPassword,
  needsRehash,
  type ScryptParameters,
  verifyPassword,
} from './passwords.ts';
