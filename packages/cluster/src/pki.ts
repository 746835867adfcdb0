import { generateKeyPair as generateKeyPairCallback, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';

const generateKeyPair = promisify(generateKeyPairCallback);

/** A PEM certificate and its PEM (PKCS#1) private key. */
export interface CertificateAndKey {
  cert: string;
  key: string;
}

/** What one certificate is for: a client (CN = user, O = groups), a server (names), or both. */
export interface CertificateRequest {
  commonName: string;
  organizations?: string[];
  client?: boolean;
  server?: { dnsNames: string[]; ipAddresses: string[] };
}

interface RsaPem {
  publicKey: string;
  privateKey: string;
}

// Keys from node:crypto (OpenSSL, on the thread pool); node-forge builds and signs the X.509.
function rsaKey(): Promise<RsaPem> {
  return generateKeyPair('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
}

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive: Go rejects negative serials
  return bytes.toString('hex');
}

const YEAR_MS = 365 * 24 * 60 * 60_000;

/** A certificate authority that signs the cluster's serving and client certificates. */
export class ClusterCa {
  readonly cert: string;
  readonly key: string;
  readonly #cert: forge.pki.Certificate;
  readonly #key: forge.pki.rsa.PrivateKey;

  private constructor(cert: string, key: string) {
    this.cert = cert;
    this.key = key;
    this.#cert = forge.pki.certificateFromPem(cert);
    this.#key = forge.pki.privateKeyFromPem(key);
  }

  /** A new self-signed CA valid for a year. */
  static async create(commonName: string): Promise<ClusterCa> {
    const key = await rsaKey();
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.publicKeyFromPem(key.publicKey);
    cert.serialNumber = serialNumber();
    cert.validity.notBefore = new Date(Date.now() - 60 * 60_000);
    cert.validity.notAfter = new Date(Date.now() + YEAR_MS);
    const subject = [{ name: 'commonName', value: commonName }];
    cert.setSubject(subject);
    cert.setIssuer(subject);
    cert.setExtensions([
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
      { name: 'subjectKeyIdentifier' },
    ]);
    cert.sign(forge.pki.privateKeyFromPem(key.privateKey), forge.md.sha256.create());
    return new ClusterCa(forge.pki.certificateToPem(cert), key.privateKey);
  }

  /** The CA written earlier (cert and key PEM). */
  static load(cert: string, key: string): ClusterCa {
    return new ClusterCa(cert, key);
  }

  /** Issues a certificate signed by this CA, valid for a year. */
  async issue(request: CertificateRequest): Promise<CertificateAndKey> {
    const key = await rsaKey();
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.publicKeyFromPem(key.publicKey);
    cert.serialNumber = serialNumber();
    cert.validity.notBefore = new Date(Date.now() - 60 * 60_000);
    cert.validity.notAfter = new Date(Date.now() + YEAR_MS);
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

/** An RSA key pair (PEM) that signs and verifies service-account tokens. */
export async function serviceAccountKeyPair(): Promise<{ publicKey: string; privateKey: string }> {
  return rsaKey();
}
