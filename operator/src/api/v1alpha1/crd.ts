import { type JsonSchemaProps, toStructuralSchema } from '../structural-schema.ts';
import { GROUP, KIND, PLURAL, SHORT_NAMES, SINGULAR, VERSION } from './common.ts';
import { whatsAppTenantStatusSchema } from './status.ts';
import { whatsAppTenantRootRules, whatsAppTenantSpecSchema } from './whatsapp-tenant.ts';

/** One `additionalPrinterColumns` entry. */
export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  priority?: number;
}

/** The CustomResourceDefinition manifest, with the JSON keys the API server expects. */
export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames: string[];
      categories: string[];
    };
    scope: 'Namespaced' | 'Cluster';
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      schema: { openAPIV3Schema: JsonSchemaProps };
      subresources: {
        status: Record<string, never>;
        scale: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath: string };
      };
      additionalPrinterColumns: PrinterColumn[];
    }[];
  };
}

/**
 * `kubectl get wat` columns. Workers and Sessions are single status strings ("2/2", "2/3" or
 * "unknown") that the operator keeps, because a printer column takes one JSONPath and cannot
 * join two numbers: a READY-style pair reads like `kubectl get deploy`, where two columns
 * (READY, DESIRED) would cost width and show `<none>` for sessions before the API reports them.
 * Reason is the Ready condition's reason, under `-o wide` only, after Age as Deployments do.
 */
export const printerColumns: PrinterColumn[] = [
  { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Summary of the conditions.' },
  {
    name: 'Workers',
    type: 'string',
    jsonPath: '.status.workersSummary',
    description: 'Ready/desired worker pods.',
  },
  {
    name: 'Sessions',
    type: 'string',
    jsonPath: '.status.sessionsSummary',
    description: 'Connected/total sessions, or unknown until the API reports them.',
  },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Time since creation.' },
  {
    name: 'Reason',
    type: 'string',
    priority: 1,
    jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
    description: 'Reason of the Ready condition: why the tenant is or is not ready.',
  },
];

/** The whole-object schema: standard fields, then spec and status from the zod schemas. */
export function whatsAppTenantOpenApiSchema(): JsonSchemaProps {
  return {
    description:
      "WhatsAppTenant is one tenant of the Switchboard WhatsApp platform: the operator turns it into the tenant's own stack (workers, API, Redis, database).",
    type: 'object',
    properties: {
      apiVersion: {
        description: 'Versioned schema of this representation of an object.',
        type: 'string',
      },
      kind: { description: 'REST resource this object represents.', type: 'string' },
      // The API server validates metadata itself and refuses anything here but its type (not
      // even a description), so the name rules live in the root CEL rules below.
      metadata: { type: 'object' },
      spec: toStructuralSchema(whatsAppTenantSpecSchema),
      status: toStructuralSchema(whatsAppTenantStatusSchema),
    },
    required: ['spec'],
    'x-kubernetes-validations': whatsAppTenantRootRules.map((rule) => ({ ...rule })),
  };
}

/** The WhatsAppTenant CustomResourceDefinition. */
export function whatsAppTenantCrd(): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${PLURAL}.${GROUP}`,
      labels: { 'app.kubernetes.io/name': 'switchboard', 'app.kubernetes.io/part-of': 'switchboard' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: SINGULAR,
        shortNames: [...SHORT_NAMES],
        // `kubectl get switchboard` lists every Switchboard resource.
        categories: ['switchboard'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: whatsAppTenantOpenApiSchema() },
          subresources: {
            status: {},
            // `kubectl scale wat/acme --replicas=4` scales the workers: sessions are what a
            // tenant grows in, and the API has its own autoscaler.
            scale: {
              specReplicasPath: '.spec.workers.replicas',
              statusReplicasPath: '.status.workers.ready',
              labelSelectorPath: '.status.selector',
            },
          },
          additionalPrinterColumns: printerColumns,
        },
      ],
    },
  };
}
