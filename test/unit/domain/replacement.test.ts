import { describe, expect, it } from 'vitest';
import { asidePathFor, planReplacement } from '../../../src/domain/replacement';

describe('planReplacement', () => {
  it('moves aside only the old files at the clone paths, and removes the rest only after the define', () => {
    const plan = planReplacement(
      ['/img/web-vda.qcow2', '/img/old-data.img', '/nvram/web_VARS.fd'],
      ['/img/web-vda.qcow2', '/img/web-vdb.img'],
      'abcd1234',
    );
    expect(plan.moves).toEqual([{ from: '/img/web-vda.qcow2', to: '/img/web-vda.qcow2.kvm-clone-abcd1234.replaced' }]);
    expect(plan.removeAfterDefine).toEqual([
      '/img/web-vda.qcow2.kvm-clone-abcd1234.replaced',
      '/img/old-data.img',
      '/nvram/web_VARS.fd',
    ]);
  });

  it('never removes a clone path, and lists each old file once', () => {
    const clonePaths = ['/img/a', '/img/b'];
    const plan = planReplacement(['/img/a', '/img/a', '/img/c'], clonePaths, 't');
    expect(plan.removeAfterDefine.filter((path) => clonePaths.includes(path))).toEqual([]);
    expect(plan.moves).toHaveLength(1);
    expect(plan.removeAfterDefine).toEqual([asidePathFor('/img/a', 't'), '/img/c']);
  });

  it('replaces nothing when the old VM had no files', () => {
    expect(planReplacement([], ['/img/a'], 't')).toEqual({ moves: [], removeAfterDefine: [] });
  });
});
