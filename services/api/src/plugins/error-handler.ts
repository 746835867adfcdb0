import { DbInputError, dbBusyErrorOf } from '@switchboard/db';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { ApiError, ERRORS, type ErrorCode } from '../errors.ts';
import { REQUEST_ID_HEADER } from './request-id.ts';

/** The catalogue code of a status Fastify or a plugin set (body limit, content type, rate limit). */
function codeForStatus(status: number): ErrorCode {
  if (status === 413) return 'payload_too_large';
  if (status === 415) return 'unsupported_media_type';
  if (status === 429) return 'rate_limited';
  return 'validation_failed';
}

/**
 * The message of a Postgres data exception (SQLSTATE class 22: a NUL character, an unpaired
 * surrogate escape in JSON, a value out of a column's range) behind a Prisma error, if it is one.
 * Such a value came from the request, so it is the client's error, never a 500.
 */
function postgresDataException(error: unknown): string | undefined {
  const cause = (
    error as { meta?: { driverAdapterError?: { cause?: { code?: unknown; message?: unknown } } } }
  ).meta?.driverAdapterError?.cause;
  if (typeof cause?.code !== 'string' || !cause.code.startsWith('22')) return undefined;
  return typeof cause.message === 'string' ? cause.message : 'invalid value';
}

/**
 * Fastify's `frameworkErrors`: a URL the router cannot decode (400) or a path parameter over
 * `maxParamLength` (414), refused before any hook runs. Answered in the catalogue's shape as
 * `validation_failed` at the router's status, with the request id (no onRequest hook ran to set it).
 */
export function answerFrameworkError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  void reply
    .header(REQUEST_ID_HEADER, request.id)
    .status(error.statusCode ?? 400)
    .send({ error: { code: 'validation_failed', message: error.message } });
}

/** Options of {@link errorHandlerPlugin}. */
export interface ErrorHandlerOptions {
  /** Called with every error answered 500, after it is logged: Sentry's capture in server.ts. */
  onServerError?: (error: unknown, request: { id: string; method: string; route: string }) => void;
}

/**
 * Every error answer of the API, in one place: `{ error: { code, message, issues? } }`. Schema
 * validation failures name each field; an ApiError answers its code and message; a database
 * input error and a Postgres data exception (NUL characters and the like) are validation
 * failures; a database that could not serve in time is a 503 `database_busy` with Retry-After; any other error under 500 keeps its message under the
 * code of its status; everything else is a generic 500 with the error logged in full (never
 * answered). Unknown routes answer `route_not_found`. Registered with fastify-plugin, so it
 * applies to every route of the app.
 */
export const errorHandlerPlugin = fp<ErrorHandlerOptions>(
  async (app, options) => {
    app.setErrorHandler((error: FastifyError, request, reply) => {
      if (hasZodFastifySchemaValidationErrors(error)) {
        const issues = error.validation.map((v) => {
          const field = [error.validationContext, ...v.instancePath.split('/').filter(Boolean)].join('.');
          const unknownKeys = (v.params as { issue?: { keys?: string[] } } | undefined)?.issue?.keys;
          return {
            path: unknownKeys?.length ? `${field}.${unknownKeys.join(',')}` : field,
            message: v.message ?? 'invalid',
          };
        });
        return reply.status(400).send({
          error: {
            code: 'validation_failed',
            message: `invalid request: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
            issues,
          },
        });
      }
      if (error instanceof ApiError) {
        if (error.retryAfterSeconds) reply.header('retry-after', String(error.retryAfterSeconds));
        return reply.status(error.status).send({
          error: {
            code: error.code,
            message: error.message,
            ...(error.issues ? { issues: [...error.issues] } : {}),
          },
        });
      }
      // A statement cancelled at DATABASE_STATEMENT_TIMEOUT or no connection within
      // DATABASE_POOL_TIMEOUT: the caller's request was fine and may be retried.
      const busy = dbBusyErrorOf(error);
      if (busy) {
        request.log.warn({ reason: busy.reason }, 'database busy');
        return reply
          .header('retry-after', String(busy.retryAfterSeconds))
          .status(503)
          .send({ error: { code: 'database_busy', message: ERRORS.database_busy.message } });
      }
      if (error instanceof DbInputError) {
        return reply.status(400).send({ error: { code: 'validation_failed', message: error.message } });
      }
      const dataException = postgresDataException(error);
      if (dataException !== undefined) {
        return reply.status(400).send({
          error: {
            code: 'validation_failed',
            message: `the request holds a value that cannot be stored: ${dataException}`,
          },
        });
      }
      const status = error.statusCode ?? 500;
      if (status < 500) {
        const code = codeForStatus(status);
        // The rate limit throws its errorResponseBuilder's plain object ({ statusCode, error }),
        // not an Error: its message is inside.
        const nested = (error as { error?: { message?: unknown } }).error?.message;
        const message =
          typeof error.message === 'string'
            ? error.message
            : typeof nested === 'string'
              ? nested
              : ERRORS[code].message;
        return reply.status(status).send({ error: { code, message } });
      }
      request.log.error({ err: error }, 'request failed');
      options.onServerError?.(error, {
        id: request.id,
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
      });
      return reply
        .status(500)
        .send({ error: { code: 'internal_error', message: ERRORS.internal_error.message } });
    });
    app.setNotFoundHandler((request, reply) =>
      reply.status(404).send({
        error: {
          code: 'route_not_found',
          message: `no route ${request.method} ${request.url.split('?')[0]}`,
        },
      }),
    );
  },
  { name: 'switchboard-error-handler' },
);
