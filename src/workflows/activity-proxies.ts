import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  cleanupOptions,
  finalizeOptions,
  hostCallOptions,
  liveMigrationOptions,
  mergeBackOptions,
  optionalHostCallOptions,
  preflightOptions,
  transferOptions,
  verifyOptions,
} from './activity-options';

/** The activities under each policy of activity-options.ts: which one a call goes through says how it retries. */
export const preflightCalls = proxyActivities<Activities>(preflightOptions);
export const hostCalls = proxyActivities<Activities>(hostCallOptions);
export const transfers = proxyActivities<Activities>(transferOptions);
export const verification = proxyActivities<Activities>(verifyOptions);
export const cleanup = proxyActivities<Activities>(cleanupOptions);
export const mergeBacks = proxyActivities<Activities>(mergeBackOptions);
export const finalizing = proxyActivities<Activities>(finalizeOptions);
export const optionalCalls = proxyActivities<Activities>(optionalHostCallOptions);
export const liveMigrations = proxyActivities<Activities>(liveMigrationOptions);
