import { describe, expect, it } from 'vitest';
import { cloneResultText, planText } from '../../../src/cli/clone-result-view';
import { domainListText } from '../../../src/cli/domain-list-view';
import { operationListText, operationStatusText } from '../../../src/cli/operation-view';
import { errorDocument, formatDocument } from '../../../src/cli/output';
import { table } from '../../../src/cli/table';
import type { CloneResult } from '../../../src/domain/clone-result';
import { ErrorCode, KvmCloneError } from '../../../src/errors';

const result: CloneResult = {
  operationId: 'clone:a:web01:b',
  success: true,
  dryRun: false,
  vmName: 'web01',
  newName: 'web01_clone',
  sourceHost: 'a',
  destinationHost: 'b',
  durationSeconds: 12.34,
  bytesTransferred: 1024 ** 3,
  bytesSkippedAsHoles: 3 * 1024 ** 3,
  bytesResumed: 0,
  rangesRecopied: 0,
  files: [
    {
      role: 'disk',
      target: 'vda',
      sourcePath: '/a/web01.qcow2',
      destinationPath: '/b/web01_clone-vda.qcow2',
      format: 'qcow2',
      fileSize: 4 * 1024 ** 3,
      bytesTransferred: 1024 ** 3,
      bytesSkippedAsHoles: 3 * 1024 ** 3,
      digest: {
        algorithm: 'sha256',
        source: 'ab'.repeat(32),
        destination: 'ab'.repeat(32),
        tools: ['python3', 'python3'],
      },
    },
  ],
  consistency: 'offline',
  compression: 'none',
  transport: 'relay',
  started: false,
  warnings: ['something to know'],
};

describe('text views', () => {
  it('summarizes a clone with its files and warnings', () => {
    const text = cloneResultText(result);
    expect(text).toMatch(/^cloned web01 \(a\) to web01_clone \(b\) in 12\.3 s\n/);
    expect(text).toContain('sent 1.0 GiB, skipped 3.0 GiB of holes');
    expect(text).toMatch(/^vda +disk +1\.0 GiB +\/b\/web01_clone-vda\.qcow2 +abababababababab… \(verified\)$/m);
    expect(text).toContain('warning: something to know');
  });

  it('prints a dry run as a table of files and the XML diff', () => {
    const plan = {
      files: [
        {
          role: 'disk' as const,
          target: 'vda',
          format: 'qcow2',
          virtualSize: 1024 ** 3,
          allocatedSize: 1024,
          dataBytes: 2048,
          sourcePath: '/a/x',
          destinationPath: '/b/y',
        },
      ],
      bytesToTransfer: 2048,
      destinationDir: '/b',
      destinationFreeBytes: 1024 ** 4,
      consistency: 'offline' as const,
      compression: 'none' as const,
      xmlDiff: '--- source.xml\n+++ clone.xml\n-  <name>web01</name>\n+  <name>web01_clone</name>\n',
    };
    const text = planText({ ...result, dryRun: true, files: [], plan }, plan);
    expect(text).toMatch(/^dry run: clone web01 \(a\) to web01_clone \(b\); nothing was changed$/m);
    expect(text).toMatch(/^TARGET +ROLE +FORMAT +SIZE +DATA +SOURCE +DESTINATION$/m);
    expect(text).toMatch(/^vda +disk +qcow2 +1\.0 GiB +2\.0 KiB +\/a\/x +\/b\/y$/m);
    expect(text).toContain('+  <name>web01_clone</name>');
    expect(cloneResultText({ ...result, dryRun: true, plan })).toBe(text);
  });

  it('lists operations and VMs as tables', () => {
    const summary = {
      operationId: 'clone:a:x:b',
      runId: 'r',
      kind: 'clone' as const,
      workflowType: 'cloneVM',
      state: 'RUNNING' as const,
      startTime: '2025-01-02T03:04:05.678Z',
      taskQueue: 'q',
    };
    expect(operationListText({ type: 'operations', operations: [summary] })).toBe(
      'OPERATION    KIND   STATE    STARTED               ENDED\nclone:a:x:b  clone  RUNNING  2025-01-02 03:04:05Z  -\n',
    );
    expect(operationListText({ type: 'operations', operations: [] })).toBe('no operations\n');
    expect(operationStatusText({ ...summary, progressUnavailable: 'no worker' })).toContain(
      'progress: unavailable: no worker',
    );
    expect(
      operationStatusText({
        ...summary,
        state: 'FAILED',
        error: { code: 1003, codeName: 'VM_NOT_FOUND_ERROR', message: 'gone' },
      }),
    ).toContain('error 1003 (VM_NOT_FOUND_ERROR): gone');
    expect(
      domainListText({
        type: 'list',
        domains: [
          {
            host: 'a',
            name: 'x',
            state: 'running',
            memoryBytes: 1024 ** 3,
            vcpus: 2,
            disks: [
              { target: 'vda', device: 'disk' },
              { target: 'sda', device: 'cdrom' },
            ],
            networks: ['default'],
          },
        ],
        errors: [],
      }),
    ).toBe(
      'HOST  NAME  STATE    UUID  MEMORY   VCPUS  DISKS           NETWORKS\na     x     running  -     1.0 GiB  2      vda,sda(cdrom)  default\n',
    );
    expect(table(['A', 'B'], [['long value', 'x']])).toBe('A           B\nlong value  x\n');
  });
});

describe('documents', () => {
  it('turns any error into the error document, unknown ones as 1000', () => {
    expect(errorDocument(new KvmCloneError(ErrorCode.OPERATION_NOT_FOUND, 'no such'))).toEqual({
      type: 'error',
      code: 1203,
      codeName: 'OPERATION_NOT_FOUND',
      message: 'no such',
    });
    expect(errorDocument(new Error('boom'))).toEqual({
      type: 'error',
      code: 1000,
      codeName: 'GENERAL_ERROR',
      message: 'boom',
    });
  });

  it('prints JSON as one line and YAML as a document', () => {
    expect(formatDocument('json', { type: 'x', n: 1 })).toBe('{"type":"x","n":1}\n');
    expect(formatDocument('yaml', { type: 'x', n: 1 })).toBe('---\ntype: x\nn: 1\n');
  });
});
