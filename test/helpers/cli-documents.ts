import { z } from 'zod';

/** The JSON documents the CLI prints, as scripts rely on them. */
export const errorDocument = z
  .object({ type: z.literal('error'), code: z.number().int(), codeName: z.string(), message: z.string() })
  .strict();

export const progressDocument = z
  .object({
    type: z.literal('progress'),
    operationId: z.string(),
    phase: z.string(),
    percent: z.number().min(0).max(100),
    bytesDone: z.number().nonnegative(),
    bytesTotal: z.number().nonnegative(),
    bytesPerSecond: z.number().nonnegative(),
    etaSeconds: z.number().nonnegative().optional(),
    disks: z.array(
      z
        .object({
          target: z.string(),
          phase: z.string(),
          percent: z.number().min(0).max(100),
          bytesDone: z.number(),
          bytesTotal: z.number(),
        })
        .strict(),
    ),
    pass: z
      .object({ kind: z.enum(['clone', 'sync', 'final']), operationId: z.string() })
      .strict()
      .optional(),
  })
  .strict();

const digest = z.object({
  algorithm: z.literal('sha256'),
  source: z.string(),
  destination: z.string(),
  tools: z.array(z.string()),
});

export const cloneResultDocument = z.object({
  type: z.literal('result'),
  operationId: z.string(),
  success: z.literal(true),
  dryRun: z.boolean(),
  vmName: z.string(),
  newName: z.string(),
  sourceHost: z.string(),
  destinationHost: z.string(),
  durationSeconds: z.number(),
  bytesTransferred: z.number(),
  bytesSkippedAsHoles: z.number(),
  files: z.array(
    z.object({
      role: z.string(),
      target: z.string(),
      sourcePath: z.string(),
      destinationPath: z.string(),
      bytesTransferred: z.number(),
      digest: digest.optional(),
    }),
  ),
  warnings: z.array(z.string()),
  plan: z
    .object({
      files: z.array(
        z.object({
          target: z.string(),
          role: z.string(),
          dataBytes: z.number(),
          sourcePath: z.string(),
          destinationPath: z.string(),
        }),
      ),
      bytesToTransfer: z.number(),
      destinationDir: z.string(),
      xmlDiff: z.string(),
    })
    .optional(),
});

export const operationSummary = z
  .object({
    operationId: z.string(),
    runId: z.string(),
    kind: z.enum(['clone', 'other']),
    workflowType: z.string(),
    state: z.enum([
      'RUNNING',
      'COMPLETED',
      'FAILED',
      'CANCELLED',
      'TERMINATED',
      'TIMED_OUT',
      'CONTINUED_AS_NEW',
      'UNKNOWN',
      'UNSPECIFIED',
      'PAUSED',
    ]),
    startTime: z.iso.datetime(),
    closeTime: z.iso.datetime().optional(),
    taskQueue: z.string(),
  })
  .strict();

export const operationsDocument = z
  .object({ type: z.literal('operations'), operations: z.array(operationSummary) })
  .strict();

export const statusDocument = operationSummary.extend({
  type: z.literal('status'),
  progress: z
    .object({
      phase: z.string(),
      bytesDone: z.number(),
      bytesTotal: z.number(),
      disks: z.array(z.object({ target: z.string() }).loose()),
    })
    .optional(),
  progressUnavailable: z.string().optional(),
  result: cloneResultDocument.omit({ type: true }).optional(),
  error: z.object({ code: z.number(), codeName: z.string(), message: z.string() }).optional(),
});

export const listDocument = z
  .object({
    type: z.literal('list'),
    domains: z.array(
      z
        .object({
          host: z.string(),
          name: z.string(),
          uuid: z.string().optional(),
          state: z.string(),
          memoryBytes: z.number().optional(),
          vcpus: z.number().optional(),
          disks: z.array(z.object({ target: z.string(), device: z.string(), source: z.string().optional() }).strict()),
          networks: z.array(z.string()),
        })
        .strict(),
    ),
    errors: z.array(errorDocument.extend({ host: z.string() })),
  })
  .strict();
