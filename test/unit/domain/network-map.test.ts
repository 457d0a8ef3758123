import { describe, expect, it } from 'vitest';
import { parseDomainXml } from '../../../src/domain/domain-xml';
import {
  mappedNetworkName,
  networkOf,
  requiredNetworks,
  unusedNetworkMapEntries,
} from '../../../src/domain/network-map';
import { uefiXml } from './fixtures/domains';

const summary = parseDomainXml(uefiXml);

describe('networkOf', () => {
  it('names the network or bridge of an interface, and nothing for others', () => {
    expect(networkOf({ type: 'network', source: 'lan' })).toEqual({ kind: 'network', name: 'lan' });
    expect(networkOf({ type: 'bridge', source: 'br0' })).toEqual({ kind: 'bridge', name: 'br0' });
    expect(networkOf({ type: 'network' })).toBeUndefined();
    expect(networkOf({ type: 'user' })).toBeUndefined();
    expect(networkOf({ type: 'direct', source: 'eth0' })).toBeUndefined();
  });
});

describe('mappedNetworkName', () => {
  it('maps a name that the map has, and keeps any other', () => {
    expect(mappedNetworkName('lan', { lan: 'prod' })).toBe('prod');
    expect(mappedNetworkName('wan', { lan: 'prod' })).toBe('wan');
    expect(mappedNetworkName('lan', undefined)).toBe('lan');
    expect(mappedNetworkName('toString', {})).toBe('toString');
  });
});

describe('requiredNetworks', () => {
  it('lists the networks and bridges the destination needs, ignoring user interfaces', () => {
    expect(requiredNetworks(summary)).toEqual([
      { kind: 'network', name: 'lan' },
      { kind: 'bridge', name: 'br-storage' },
    ]);
  });

  it('names them as mapped', () => {
    expect(requiredNetworks(summary, { lan: 'prod-lan', 'br-storage': 'br1' })).toEqual([
      { kind: 'network', name: 'prod-lan' },
      { kind: 'bridge', name: 'br1' },
    ]);
  });

  it('lists each network once, even when several sources map onto it, but keeps kinds apart', () => {
    const interfaces = [
      { type: 'network', source: 'a' },
      { type: 'network', source: 'b' },
      { type: 'network', source: 'a' },
      { type: 'bridge', source: 'a' },
    ];
    expect(requiredNetworks({ interfaces }, { b: 'a' })).toEqual([
      { kind: 'network', name: 'a' },
      { kind: 'bridge', name: 'a' },
    ]);
  });

  it('needs nothing for a domain without interfaces', () => {
    expect(requiredNetworks({ interfaces: [] }, { lan: 'x' })).toEqual([]);
  });
});

describe('unusedNetworkMapEntries', () => {
  it('reports map keys that name no network or bridge of the domain', () => {
    expect(unusedNetworkMapEntries(summary, { lan: 'prod', 'br-storge': 'br1', default: 'x' })).toEqual([
      'br-storge',
      'default',
    ]);
  });

  it('reports nothing when every key is used, or without a map', () => {
    expect(unusedNetworkMapEntries(summary, { lan: 'prod', 'br-storage': 'br1' })).toEqual([]);
    expect(unusedNetworkMapEntries(summary)).toEqual([]);
  });

  it('does not count a user or direct interface as a use', () => {
    expect(
      unusedNetworkMapEntries({ interfaces: [{ type: 'direct', source: 'eth0' }, { type: 'user' }] }, { eth0: 'eth1' }),
    ).toEqual(['eth0']);
  });
});
