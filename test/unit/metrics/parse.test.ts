import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CpuRows, parseProcStat } from '../../../agent/metrics/cpu.js';
import { parseDiskstatsCounters } from '../../../agent/metrics/disk.js';
import { parseLoadavg } from '../../../agent/metrics/load.js';
import { MEMINFO_KEYS, parseMeminfo } from '../../../agent/metrics/memory.js';
import { parseNetDevCounters } from '../../../agent/metrics/net.js';
import {
  Scanner,
  parseCpuStatUsage,
  parseIoStat,
  parseLimit,
  parsePressure,
} from '../../../agent/metrics/parse.js';
import { procfsFixture } from '../../helpers/fixtures.js';

function scan(text: string): Scanner {
  const buf = Buffer.from(text, 'latin1');
  return new Scanner().reset(buf, buf.length);
}

function fixture(...parts: string[]): string {
  return readFileSync(procfsFixture(...parts), 'latin1');
}

/** Whitespace-split fields of the line whose field `col` is `key` (the obvious, slow way). */
function naiveFields(text: string, key: string, col = 0): string[] {
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[col] === key) return f;
  }
  throw new Error(`no line ${key}`);
}

void describe('Scanner', () => {
  void it('reads unsigned, signed and decimal numbers', () => {
    const sc = scan('  42 -7 0.39 12 3.5x');
    assert.equal(sc.uint(), 42);
    assert.equal(sc.int(), -7);
    assert.equal(sc.decimal(), 0.39);
    assert.equal(sc.decimal(), 12);
    assert.equal(sc.decimal(), 3.5);
    assert.ok(Number.isNaN(sc.uint()));
  });

  void it('parses decimals exactly like parseFloat', () => {
    for (const s of ['0.39', '1.00', '99.99', '12.345', '0.01', '100.00']) {
      assert.equal(scan(s).decimal(), Number.parseFloat(s), s);
    }
  });

  void it('rounds long integers correctly (64-bit counters)', () => {
    for (const s of [
      '18446744073709547520',
      '18446744073709551615',
      '9007199254740993',
      '123456789012345678',
    ]) {
      assert.equal(scan(s).uint(), Number(s), s);
    }
  });

  void it('gives NaN at end of input instead of throwing', () => {
    const sc = scan('5');
    assert.equal(sc.uint(), 5);
    assert.ok(Number.isNaN(sc.uint()));
    assert.ok(Number.isNaN(sc.decimal()));
    assert.ok(sc.eof());
  });

  void it('ignores stale bytes past the end', () => {
    const buf = Buffer.from('12.5', 'latin1');
    const sc = new Scanner().reset(buf, 2);
    assert.equal(sc.decimal(), 12);
  });
});

void describe('parsePressure', () => {
  void it('reads some and full lines', () => {
    const out = new Float64Array(4);
    parsePressure(scan(fixture('live-a/proc/pressure/io')), out);
    const some = naiveFields(fixture('live-a/proc/pressure/io'), 'some');
    const full = naiveFields(fixture('live-a/proc/pressure/io'), 'full');
    assert.equal(out[0], Number.parseFloat(some[1]!.slice(6)));
    assert.equal(out[1], Number(some[4]!.slice(6)));
    assert.equal(out[2], Number.parseFloat(full[1]!.slice(6)));
    assert.equal(out[3], Number(full[4]!.slice(6)));
  });

  void it('leaves full NaN when the kernel has no full line (cpu before 5.13)', () => {
    const out = new Float64Array(4);
    parsePressure(scan(fixture('synth-a/proc/pressure/cpu')), out);
    assert.deepEqual([...out], [1.5, 1000000, NaN, NaN]);
  });
});

void describe('cgroup file parsers', () => {
  void it('cpu.stat usage_usec', () => {
    assert.equal(
      parseCpuStatUsage(scan(fixture('live-a/sys/fs/cgroup/unified/cpu.stat'))),
      184885981,
    );
    assert.equal(parseCpuStatUsage(scan('user_usec 5\nusage_usec 7\n')), 7);
    assert.ok(Number.isNaN(parseCpuStatUsage(scan('usage_usecx 7\n'))));
  });

  void it('io.stat sums rbytes and wbytes over devices', () => {
    const out = new Float64Array(2);
    parseIoStat(scan(fixture('synth-a/sys/fs/cgroup/system.slice/nginx.service/io.stat')), out);
    assert.deepEqual([...out], [1000500, 2000000]);
    parseIoStat(scan(''), out);
    assert.deepEqual([...out], [0, 0]);
  });

  void it("memory.max: 'max' is +Infinity", () => {
    assert.equal(parseLimit(scan('max\n')), Infinity);
    assert.equal(parseLimit(scan('536870912\n')), 536870912);
  });
});

void describe('/proc parsers on captured files', () => {
  void it('/proc/stat cpu lines match a naive parse', () => {
    const text = fixture('live-a/proc/stat');
    const rows = new CpuRows();
    parseProcStat(scan(text), rows);
    assert.equal(rows.count, 3);
    assert.deepEqual([...rows.ids.subarray(0, 3)], [-1, 0, 1]);
    for (const [r, key] of [
      [0, 'cpu'],
      [1, 'cpu0'],
      [2, 'cpu1'],
    ] as const) {
      const want = naiveFields(text, key).slice(1, 9).map(Number);
      assert.deepEqual([...rows.vals.subarray(r * 8, r * 8 + 8)], want, key);
    }
  });

  void it('/proc/meminfo keys', () => {
    const text = fixture('live-a/proc/meminfo');
    const kb = new Float64Array(MEMINFO_KEYS.length);
    parseMeminfo(scan(text), kb);
    MEMINFO_KEYS.forEach((k, i) => assert.equal(kb[i], Number(naiveFields(text, `${k}:`)[1]), k));
  });

  void it('/proc/loadavg', () => {
    const out = new Float64Array(5);
    parseLoadavg(scan('1.50 0.75 0.25 3/456 7890\n'), out);
    assert.deepEqual([...out], [1.5, 0.75, 0.25, 3, 456]);
  });

  void it('/proc/net/dev lines, including a counter glued to the colon', () => {
    const text = fixture('synth-a/proc/net/dev');
    const out = new Float64Array(8);
    const sc = scan(text);
    sc.nextLine();
    sc.nextLine();
    const names: string[] = [];
    const rows: number[][] = [];
    while (!sc.eof()) {
      names.push(sc.word(0x3a));
      sc.skipPast(0x3a);
      parseNetDevCounters(sc, out);
      rows.push([...out]);
      sc.nextLine();
    }
    assert.deepEqual(names, ['lo', 'eth0', 'eth1', 'eth2', 'eth3', 'veth1a2b', 'docker0', 'wlan0']);
    assert.deepEqual(rows[1], [1000000, 1000, 1, 2, 500000, 500, 0, 1]);
    assert.equal(rows[2]![0], 4294967000);
    assert.equal(rows[3]![4], 18446744073709547520);
  });

  void it('/proc/diskstats lines match a naive parse', () => {
    const text = fixture('live-b/proc/diskstats');
    const f = naiveFields(text, 'vda', 2).map(Number);
    const sc = scan(text.slice(text.indexOf(' vda ') + 5));
    const out = new Float64Array(6);
    parseDiskstatsCounters(sc, out);
    assert.deepEqual([...out], [f[3], f[5], f[7], f[9], f[11], f[12]]);
  });
});
