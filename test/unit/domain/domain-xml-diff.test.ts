import { describe, expect, it } from 'vitest';
import { domainXmlDiff, prettyDomainXml } from '../../../src/domain/domain-xml-diff';
import { rewriteDomainForClone } from '../../../src/domain/domain-xml';
import { ErrorCode, KvmCloneError } from '../../../src/errors';
import { uefiXml } from './fixtures/domains';

describe('prettyDomainXml', () => {
  it('puts one element per line, indented, with double-quoted attributes in their order', () => {
    expect(
      prettyDomainXml(
        `<domain type='kvm'><name>web</name><os><type arch='x86_64' machine='q35'>hvm</type><boot dev='hd'/></os></domain>`,
      ),
    ).toBe(
      [
        '<domain type="kvm">',
        '  <name>web</name>',
        '  <os>',
        '    <type arch="x86_64" machine="q35">hvm</type>',
        '    <boot dev="hd"/>',
        '  </os>',
        '</domain>',
        '',
      ].join('\n'),
    );
  });

  it('reads libvirt output and the rewrite output alike', () => {
    expect(
      prettyDomainXml(
        rewriteDomainForClone(uefiXml, {
          newName: 'win11',
          uuid: '0c7a1f5e-9b7d-4b65-a0a8-6d7f0c6f2d11',
          diskPaths: {},
          logDir: '/l',
          nvramPath: '/var/lib/libvirt/qemu/nvram/win11_VARS.fd',
        }),
      ),
    ).toBe(prettyDomainXml(uefiXml));
  });

  it('escapes special characters so the output is still XML', () => {
    const xml = `<domain type='kvm'><name>a &amp; b &lt;c&gt;</name><description>say "hi"</description><metadata><x:note xmlns:x='urn:x' x:v='1 &amp; "2"&#10;'/></metadata></domain>`;
    const pretty = prettyDomainXml(xml);
    expect(pretty).toContain('<name>a &amp; b &lt;c&gt;</name>');
    expect(pretty).toContain('<x:note xmlns:x="urn:x" x:v="1 &amp; &quot;2&quot;&#10;"/>');
    expect(prettyDomainXml(pretty)).toBe(pretty);
  });

  it('keeps comments, CDATA and text mixed with elements, each on its own line', () => {
    expect(prettyDomainXml(`<domain><!-- managed --><metadata>note<a/><![CDATA[<raw>]]></metadata></domain>`)).toBe(
      [
        '<domain>',
        '  <!-- managed -->',
        '  <metadata>',
        '    note',
        '    <a/>',
        '    <![CDATA[<raw>]]>',
        '  </metadata>',
        '</domain>',
        '',
      ].join('\n'),
    );
  });

  it('refuses what is not a domain document', () => {
    let thrown: unknown;
    try {
      prettyDomainXml('<network/>');
    } catch (error) {
      thrown = error;
    }
    expect((thrown as KvmCloneError).code).toBe(ErrorCode.LIBVIRT_ERROR);
  });
});

describe('domainXmlDiff', () => {
  it('is empty when the documents differ only in formatting and quoting', () => {
    expect(domainXmlDiff(uefiXml, uefiXml.replace(/'/g, '"').replace(/\n\s*/g, ''))).toBe('');
  });

  it('shows what the clone rewrite changes as a unified diff of whole lines', () => {
    const clone = rewriteDomainForClone(uefiXml, {
      newName: 'win11-b',
      diskPaths: { sda: '/images/win11-b-sda.qcow2' },
      networkMap: { lan: 'prod-lan' },
      nvramPath: '/var/lib/libvirt/qemu/nvram/win11-b_VARS.fd',
      logDir: '/l',
    });
    const diff = domainXmlDiff(uefiXml, clone);
    expect(diff.split('\n').slice(0, 2)).toEqual(['--- source.xml', '+++ clone.xml']);
    const removed = diff.split('\n').filter((line) => line.startsWith('-') && !line.startsWith('---'));
    const added = diff.split('\n').filter((line) => line.startsWith('+') && !line.startsWith('+++'));
    expect(removed).toEqual([
      '-  <name>win11</name>',
      '-  <uuid>0c7a1f5e-9b7d-4b65-a0a8-6d7f0c6f2d11</uuid>',
      '-    <nvram template="/usr/share/OVMF/OVMF_VARS_4M.ms.fd">/var/lib/libvirt/qemu/nvram/win11_VARS.fd</nvram>',
      '-    <disk type="volume" device="disk">',
      '-      <source pool="default" volume="win11.qcow2"/>',
      '-      <backingStore/>',
      '-      <source network="lan" portgroup="vlan10"/>',
    ]);
    expect(added).toEqual([
      '+  <name>win11-b</name>',
      '+    <nvram template="/usr/share/OVMF/OVMF_VARS_4M.ms.fd">/var/lib/libvirt/qemu/nvram/win11-b_VARS.fd</nvram>',
      '+    <disk type="file" device="disk">',
      '+      <source file="/images/win11-b-sda.qcow2"/>',
      '+      <source network="prod-lan" portgroup="vlan10"/>',
    ]);
    expect(diff).toMatch(/^@@ -\d+,\d+ \+\d+,\d+ @@$/m);
  });

  it('takes its own labels', () => {
    expect(
      domainXmlDiff('<domain><name>a</name></domain>', '<domain><name>b</name></domain>', {
        before: 'kvm1:web',
        after: 'kvm2:web2',
      }),
    ).toBe(
      [
        '--- kvm1:web',
        '+++ kvm2:web2',
        '@@ -1,3 +1,3 @@',
        ' <domain>',
        '-  <name>a</name>',
        '+  <name>b</name>',
        ' </domain>',
        '',
      ].join('\n'),
    );
  });
});
