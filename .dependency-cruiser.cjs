/** @type {import('dependency-cruiser').IConfiguration} */
// The layers of docs/architecture.md, enforced: `make circular` (and `npm run circular`) runs
// these over packages, services, operator, bench and test. Paths are the resolved files, so a
// workspace import (`@switchboard/x`) counts as the package's folder.

/** The development tools: they start and drive the product; the product never needs them. */
const DEV_TOOLS = '^(packages/(devstack|testing|envtest|cluster|devloop|cloud-api-emulator)|bench)/';
/** Where the product may still use the tools: its tests and its test-only helpers. */
const TEST_CODE = '(\\.test\\.ts$|/testing/|/testing\\.ts$)';
/** The worker side of packages/messaging: what consumes queues, relays effects or talks to channels. */
const MESSAGING_WORKER_SIDE =
  '^packages/messaging/src/(outbound/consumer|inbound/pipeline|outbox/relay|webhooks/delivery-worker|media/download-worker)\\.ts$';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Circular imports make load order matter and hide design problems: break the cycle.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'packages-not-to-services',
      severity: 'error',
      comment:
        'Packages are the floor the services and the operator stand on: a package never imports a ' +
        'service or the operator. Move what both need into a package.',
      from: { path: '^packages/' },
      to: { path: '^(services|operator)/' },
    },
    {
      name: 'api-not-to-worker-side',
      severity: 'error',
      comment:
        'The API meets the workers only through the contract (@switchboard/messaging/producer): ' +
        'it never imports the channels, the session leases or the worker service.',
      from: { path: '^services/api/' },
      to: { path: '^(packages/channels|packages/sessions|services/worker)/' },
    },
    {
      name: 'api-imports-messaging-producer-only',
      severity: 'error',
      comment:
        'The API imports @switchboard/messaging/producer (packages/messaging/src/producer.ts) and ' +
        'nothing else of packages/messaging: the contract, replays and media storage.',
      from: { path: '^services/api/' },
      to: { path: '^packages/messaging/', pathNot: '^packages/messaging/src/producer\\.ts$' },
    },
    {
      name: 'producer-stays-off-the-worker-side',
      severity: 'error',
      comment:
        "The producer entry (what the API loads) never reaches the workers' consumers, pipelines " +
        'or relay, not even through another module.',
      from: { path: '^packages/messaging/src/producer\\.ts$' },
      to: { path: MESSAGING_WORKER_SIDE, reachable: true },
    },
    {
      name: 'assistant-stays-off-the-worker-side',
      severity: 'error',
      comment:
        'The API loads @switchboard/assistant (settings, governance keys, budget): the package never ' +
        'imports the database, the channels, the session leases or messaging; the worker wires it to them.',
      from: { path: '^packages/assistant/', pathNot: TEST_CODE },
      to: { path: '^packages/(db|channels|sessions|messaging)/' },
    },
    {
      name: 'baileys-only-in-its-adapter',
      severity: 'error',
      comment:
        'Baileys is one adapter of the Channel port: only packages/channels/src/baileys/ imports ' +
        'it; everything else goes through the Channel interface. Tests may import its constants ' +
        "(the worker's and the inbox's import DisconnectReason to make the stand-in disconnect).",
      from: { pathNot: ['^packages/channels/src/baileys/', '\\.test\\.ts$'] },
      to: { path: '(^|/)node_modules/@whiskeysockets/baileys/' },
    },
    {
      name: 'product-not-to-dev-tools',
      severity: 'error',
      comment:
        'The product (services, operator, packages other than the tools) never imports the ' +
        'development tools (devstack, testing, envtest, cluster, the Cloud API emulator, bench), except ' +
        'from its tests (*.test.ts) and test-only helpers (testing/ folders, testing.ts).',
      from: {
        path: '^(services|operator|packages)/',
        pathNot: [DEV_TOOLS, TEST_CODE],
      },
      to: { path: DEV_TOOLS },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['node_modules/(?!@whiskeysockets/baileys/)', '/generated/', '(^|/)dist/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};
