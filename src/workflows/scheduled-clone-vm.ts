import { workflowInfo } from '@temporalio/workflow';
import type { CloneResult } from '../domain/clone-result';
import { expandNameTemplate } from '../domain/name-template';
import type { CloneInput } from '../domain/schemas/clone-input';
import { cloneVM } from './clone-vm';

/**
 * A clone started by a schedule. A schedule's action has fixed arguments, so a dated new
 * name (`web01-{date}`) is filled in here, from the run's start time: it is recorded in
 * the history, so a replay computes the same name. The clone itself runs in this same
 * workflow, which answers progress queries like cloneVM.
 */
export async function scheduledCloneVM(input: CloneInput): Promise<CloneResult> {
  const newName = input.newName === undefined ? undefined : expandNameTemplate(input.newName, workflowInfo().startTime);
  return cloneVM(newName === undefined ? input : { ...input, newName });
}
