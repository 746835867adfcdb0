import { generateKeyPair as generateKeyPairCallback, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';

const generateKeyPair = promisify(generateKeyPairCallback);

/** A PEM certificate and its PEM (PKCS#1) private key. */
export interface CertificateAndKey {
  cert: string;
  key: string;
}

/** Everything kube-apiserver and its admin client need for TLS and service-account tokens. */
export interface ControlPlaneCertificates {
  /** Signs the serving certificate and the client certificates (--client-ca-file). */
  ca: CertificateAndKey;
  serving: CertificateAndKey;
  /** A client certificate for user `admin` in group system:masters (cluster-admin through RBAC's bootstrap binding). */
  admin: CertificateAndKey;
  /** RSA key pair that signs and verifies service-account tokens. */
  serviceAccount: { publicKey: string; privateKey: string };
}

/** Options for the generated certificates. */
export interface CertificateOptions {
  /** DNS names the serving certificate is valid for. */
  dnsNames: string[];
  /** IP addresses the serving certificate is valid for. */
  ipAddresses: string[];
}

interface RsaPem {
  publicKey: string;
  privateKey: string;
}

// Keys come from node:crypto (OpenSSL, on the thread pool, fast); node-forge only assembles and
// signs the X.509 structures, which node:crypto cannot create.
function rsaKey(): Promise<RsaPem> {
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

interface CertificateSpec {
  subject: forge.pki.CertificateField[];
  key: RsaPem;
  issuer?: { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey };
  extensions: object[];
}

function sign(spec: CertificateSpec): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(spec.key.publicKey);
  cert.serialNumber = serialNumber();
  // Back-dated an hour so a slightly skewed clock does not make a fresh certificate "not yet valid".
  cert.validity.notBefore = new Date(Date.now() - 60 * 60_000);
  cert.validity.notAfter = new Date(Date.now() + 7 * 24 * 60 * 60_000);
  cert.setSubject(spec.subject);
  cert.setIssuer(spec.issuer ? spec.issuer.cert.subject.attributes : spec.subject);
  cert.setExtensions([...spec.extensions, { name: 'subjectKeyIdentifier' }]);
  const signingKey = spec.issuer?.key ?? forge.pki.privateKeyFromPem(spec.key.privateKey);
  cert.sign(signingKey, forge.md.sha256.create());
  return cert;
}

/** Generates a fresh CA, a serving certificate, an admin client certificate and service-account keys. */
export async function generateCertificates(options: CertificateOptions): Promise<ControlPlaneCertificates> {
  const [caKey, servingKey, adminKey, serviceAccountKey] = await Promise.all([
    rsaKey(),
    rsaKey(),
    rsaKey(),
    rsaKey(),
  ]);

  const caCert = sign({
    subject: [{ name: 'commonName', value: 'switchboard-envtest-ca' }],
    key: caKey,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const issuer = { cert: caCert, key: forge.pki.privateKeyFromPem(caKey.privateKey) };

  const servingCert = sign({
    subject: [{ name: 'commonName', value: 'kube-apiserver' }],
    key: servingKey,
    issuer,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          ...options.dnsNames.map((value) => ({ type: 2, value })),
          ...options.ipAddresses.map((ip) => ({ type: 7, ip })),
        ],
      },
    ],
  });

  // kube-apiserver maps a client certificate's CN to the user name and each O to a group.
  const adminCert = sign({
    subject: [
      { name: 'commonName', value: 'admin' },
      { name: 'organizationName', value: 'system:masters' },
    ],
    key: adminKey,
    issuer,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', clientAuth: true },
    ],
  });

  return {
    ca: { cert: forge.pki.certificateToPem(caCert), key: caKey.privateKey },
    serving: { cert: forge.pki.certificateToPem(servingCert), key: servingKey.privateKey },
    admin: { cert: forge.pki.certificateToPem(adminCert), key: adminKey.privateKey },
    serviceAccount: serviceAccountKey,
  };
}
