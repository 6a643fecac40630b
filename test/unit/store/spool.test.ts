import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Logger } from '../../../agent/shared/log.js';
import { decodeSegment, Spool } from '../../../agent/store/spool.js';
import type { TickRecord } from '../../../agent/store/records.js';
import { tempDir } from '../../helpers/servers.js';

const quiet = new Logger({ level: 'error', sink: { write: () => true } });
const names = ['cpu.busy_pct', 'mem.available_bytes', 'net.eth0.rx_bytes_per_s'];

function tick(ts: number, series: readonly string[] = names): TickRecord {
  return { kind: 'tick', ts, series, values: Float64Array.from(series, (_, i) => ts / 1000 + i) };
}

function open(dir: string, over: Partial<{ maxBytes: number; segmentBytes: number }> = {}): Spool {
  return Spool.open({
    dir,
    maxBytes: 1 << 20,
    segmentBytes: 4096,
    shedStepMs: 10_000,
    log: quiet,
    ...over,
  });
}

function drain(spool: Spool) {
  const out = [];
  for (let f = spool.oldestSegment(); f; f = spool.oldestSegment()) {
    out.push(...spool.readSegment(f));
    spool.removeSegment(f);
  }
  return out;
}

test('records come back in order with their own timestamps, across segments and reopen', () => {
  const tmp = tempDir('spool');
  try {
    const spool = open(tmp.dir);
    for (let i = 0; i < 200; i++) spool.append(tick(1_700_000_000_000 + i * 1000));
    assert.ok(spool.stats().segments > 1, 'small segments rotate');
    // A new process: reopen the directory.
    const again = open(tmp.dir);
    const recs = drain(again);
    assert.equal(recs.length, 200);
    recs.forEach((r, i) => {
      assert.equal(r.ts, 1_700_000_000_000 + i * 1000);
      assert.equal(r.kind, 'tick');
      if (r.kind === 'tick') assert.deepEqual([...r.series], names);
    });
    assert.ok(again.isEmpty);
  } finally {
    tmp.remove();
  }
});

test('the series set may change between records', () => {
  const tmp = tempDir('spool');
  try {
    const spool = open(tmp.dir);
    spool.append(tick(1000));
    spool.append(tick(2000, ['a', 'b']));
    spool.append(tick(3000));
    const recs = drain(spool);
    assert.deepEqual(
      recs.map((r) => r.series.length),
      [3, 2, 3],
    );
  } finally {
    tmp.remove();
  }
});

test('corrupted and truncated records are counted and skipped, the rest decode', () => {
  const tmp = tempDir('spool');
  try {
    const spool = open(tmp.dir, { segmentBytes: 1 << 20 });
    for (let i = 0; i < 50; i++) spool.append(tick(1000 * (i + 1)));
    spool.close();
    const file = path.join(tmp.dir, readdirSync(tmp.dir)[0]!);
    const buf = readFileSync(file);
    // Flip a byte inside record 10's values, and cut the last record short.
    const recLen = 12 + 16 + 4 * names.length;
    const dictLen = buf.length - 50 * recLen;
    buf.writeUInt8(buf.readUInt8(dictLen + 10 * recLen + 20) ^ 0xff, dictLen + 10 * recLen + 20);
    writeFileSync(file, buf.subarray(0, buf.length - 5));
    const { records, bad } = decodeSegment(readFileSync(file));
    assert.equal(bad, 2);
    assert.equal(records.length, 48);
    assert.ok(!records.some((r) => r.ts === 11_000), 'the corrupted record is gone');
    // Garbage between records: resynchronises on the next record.
    const noisy = Buffer.concat([
      buf.subarray(0, dictLen),
      Buffer.from('garbage SC garbage'),
      buf.subarray(dictLen),
    ]);
    const again = decodeSegment(noisy);
    assert.equal(again.records.length, 49);
    assert.equal(again.bad, 2);
  } finally {
    tmp.remove();
  }
});

test('a full spool sheds the oldest raw ticks into rollup summaries and counts them', () => {
  const tmp = tempDir('spool');
  try {
    const many = Array.from({ length: 200 }, (_, i) => `s${i}`);
    const spool = open(tmp.dir, { maxBytes: 65536, segmentBytes: 16384 });
    const n = 150;
    for (let i = 0; i < n; i++) spool.append(tick(1000 * i, many));
    const st = spool.stats();
    assert.ok(st.bytes <= 65536, `bytes ${st.bytes} within the cap`);
    assert.ok(st.shedTicks > 0, 'some ticks were shed');
    const recs = drain(spool);
    const ticks = recs.filter((r) => r.kind === 'tick').length;
    const summarised = recs.reduce((k, r) => k + (r.kind === 'partial' ? r.ticks : 0), 0);
    assert.equal(
      ticks + summarised + st.droppedTicks,
      n,
      'every tick is kept, summarised or counted as dropped',
    );
    // Order is kept: record times never go backwards.
    for (let i = 1; i < recs.length; i++) assert.ok(recs[i]!.ts >= recs[i - 1]!.ts);
  } finally {
    tmp.remove();
  }
});

test('when summaries would not be smaller (one tick per bucket), a full spool drops whole segments, counted', () => {
  const tmp = tempDir('spool');
  try {
    const many = Array.from({ length: 200 }, (_, i) => `s${i}`);
    // shedStepMs equal to the tick: one summary per tick, larger than the tick itself.
    const spool = Spool.open({
      dir: tmp.dir,
      maxBytes: 65536,
      segmentBytes: 16384,
      shedStepMs: 1000,
      log: quiet,
    });
    const n = 150;
    for (let i = 0; i < n; i++) spool.append(tick(1000 * i, many));
    const st = spool.stats();
    assert.ok(st.bytes <= 65536, `bytes ${st.bytes} within the cap`);
    assert.equal(st.shedTicks, 0, 'nothing summarised');
    assert.ok(st.droppedTicks > 0, 'whole segments dropped');
    const recs = drain(spool);
    assert.ok(recs.every((r) => r.kind === 'tick'));
    assert.equal(recs.length + st.droppedTicks, n);
    assert.equal(recs[0]!.ts, st.droppedTicks * 1000, 'the oldest went first');
  } finally {
    tmp.remove();
  }
});
