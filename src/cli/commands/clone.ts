import { Command } from 'commander';
import type { CloneResult } from '../../domain/clone-result';
import type { CloneInput } from '../../domain/schemas/clone-input';
import { cloneInputFromFlags, type CloneFlags } from '../clone-flags';
import { cloneResultText } from '../clone-result-view';
import { operationCommand, type OperationCommandFlags } from '../operation-command';
import { cloneOptions } from '../operation-options';

export function cloneCommand(): Command {
  return operationCommand<CloneFlags & OperationCommandFlags, CloneInput, CloneResult>({
    name: 'clone',
    description:
      'clone VM from host SOURCE to host DEST (config aliases, or user@host resolved with ~/.ssh/config), showing live progress',
    options: cloneOptions,
    input: (subject, flags, config) => cloneInputFromFlags(subject, flags, config.defaults.clone),
    start: (client, input) => client.startClone(input),
    resultText: cloneResultText,
  });
}
