import { generateKeyPair as generateKeyPairCallback, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';

const generateKeyPair = promisify(generateKeyPairCallback);

/** A PEM certificate and its PEM (PKCS#1) private key. */
export interface CertificateAndKey {
  cert: string;
  key: string;
}

/** A PEM (SPKI) public key and its PEM (PKCS#1) private key. */
export interface RsaKeyPair {
  publicKey: string;
  privateKey: string;
}

/** What one certificate is for: a client (CN = user, O = groups), a server (names), or both. */
export interface CertificateRequest {
  commonName: string;
  organizations?: string[];
  client?: boolean;
  server?: { dnsNames: string[]; ipAddresses: string[] };
}

/** Everything kube-apiserver and its admin client need for TLS and service-account tokens. */
export interface ControlPlaneCertificates {
  /** Signs the serving certificate and the client certificates (--client-ca-file). */
  ca: CertificateAndKey;
  serving: CertificateAndKey;
  /** A client certificate for user `admin` in group system:masters (cluster-admin through RBAC's bootstrap binding). */
  admin: CertificateAndKey;
  /** RSA key pair that signs and verifies service-account tokens. */
  serviceAccount: RsaKeyPair;
}

/** Options for the generated certificates. */
export interface CertificateOptions {
  /** DNS names the serving certificate is valid for. */
  dnsNames: string[];
  /** IP addresses the serving certificate is valid for. */
  ipAddresses: string[];
}

/**
 * A 2048-bit RSA key pair (also what signs and verifies service-account tokens). Keys come from
 * node:crypto (OpenSSL, on the thread pool, fast); node-forge only assembles and signs the X.509
 * structures, which node:crypto cannot create.
 */
export function rsaKeyPair(): Promise<RsaKeyPair> {
  return generateKeyPair('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
}

function serialNumber(): string {
  // Positive (Go rejects negative serials) and random, so two runs never share one.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

const DAY_MS = 24 * 60 * 60_000;

function newCertificate(key: RsaKeyPair, validForMs: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(key.publicKey);
  cert.serialNumber = serialNumber();
  // Back-dated an hour so a slightly skewed clock does not make a fresh certificate "not yet valid".
  cert.validity.notBefore = new Date(Date.now() - 60 * 60_000);
  cert.validity.notAfter = new Date(Date.now() + validForMs);
  return cert;
}

/** A certificate authority that signs serving and client certificates for Kubernetes components. */
export class CertificateAuthority {
  readonly cert: string;
  readonly key: string;
  readonly #cert: forge.pki.Certificate;
  readonly #key: forge.pki.rsa.PrivateKey;
  readonly #validForMs: number;

  private constructor(cert: string, key: string, validForMs: number) {
    this.cert = cert;
    this.key = key;
    this.#cert = forge.pki.certificateFromPem(cert);
    this.#key = forge.pki.privateKeyFromPem(key);
    this.#validForMs = validForMs;
  }

  /** A new self-signed CA; it and every certificate it issues are valid for `validForDays`. */
  static async create(commonName: string, validForDays: number): Promise<CertificateAuthority> {
    const key = await rsaKeyPair();
    const cert = newCertificate(key, validForDays * DAY_MS);
    const subject = [{ name: 'commonName', value: commonName }];
    cert.setSubject(subject);
    cert.setIssuer(subject);
    cert.setExtensions([
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
      { name: 'subjectKeyIdentifier' },
    ]);
    cert.sign(forge.pki.privateKeyFromPem(key.privateKey), forge.md.sha256.create());
    return new CertificateAuthority(forge.pki.certificateToPem(cert), key.privateKey, validForDays * DAY_MS);
  }

  /** A CA written earlier (cert and key PEM); what it issues is valid for `validForDays`. */
  static load(cert: string, key: string, validForDays: number): CertificateAuthority {
    return new CertificateAuthority(cert, key, validForDays * DAY_MS);
  }

  /** Issues a certificate signed by this CA. */
  async issue(request: CertificateRequest): Promise<CertificateAndKey> {
    const key = await rsaKeyPair();
    const cert = newCertificate(key, this.#validForMs);
    // kube-apiserver maps a client certificate's CN to the user name and each O to a group.
    cert.setSubject([
      { name: 'commonName', value: request.commonName },
      ...(request.organizations ?? []).map((value) => ({ name: 'organizationName', value })),
    ]);
    cert.setIssuer(this.#cert.subject.attributes);
    const extensions: object[] = [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: request.server !== undefined, clientAuth: request.client === true },
      { name: 'subjectKeyIdentifier' },
    ];
    if (request.server) {
      extensions.push({
        name: 'subjectAltName',
        altNames: [
          ...request.server.dnsNames.map((value) => ({ type: 2, value })),
          ...request.server.ipAddresses.map((ip) => ({ type: 7, ip })),
        ],
      });
    }
    cert.setExtensions(extensions);
    cert.sign(this.#key, forge.md.sha256.create());
    return { cert: forge.pki.certificateToPem(cert), key: key.privateKey };
  }
}

/** Generates a fresh CA, a serving certificate, an admin client certificate and service-account keys. */
export async function generateCertificates(options: CertificateOptions): Promise<ControlPlaneCertificates> {
  const ca = await CertificateAuthority.create('switchboard-envtest-ca', 7);
  const [serving, admin, serviceAccount] = await Promise.all([
    ca.issue({
      commonName: 'kube-apiserver',
      server: { dnsNames: options.dnsNames, ipAddresses: options.ipAddresses },
    }),
    ca.issue({ commonName: 'admin', organizations: ['system:masters'], client: true }),
    rsaKeyPair(),
  ]);
  return { ca: { cert: ca.cert, key: ca.key }, serving, admin, serviceAccount };
}
