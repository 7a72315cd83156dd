import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, ProtocolError, type Message } from '@cifar-dist/protocol';
import { createShmProbe, inlineOnly, isShmChannelPaths, isShmRef, SharedWeightsFile, SharedWeightsReader, SHM_MIN_BYTES, ShmChannel, ShmRun } from './shm.js';

let root = '';
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'shm-spec-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** A compute request of `count` images (odd counts leave the labels blob unaligned at the end). */
function compute(count: number, weights: Float32Array, step = 0): Message {
  return {
    type: 'compute',
    weightsVersion: 0,
    modelId: 1,
    step,
    weights,
    images: new Uint8Array(count * 3072).map((_, i) => (i * 7 + step) % 251),
    labels: new Uint8Array(count).map((_, i) => i % 10),
    count,
  };
}

describe('ShmChannel', () => {
  it('moves a large frame through the file byte-exactly and passes small ones inline, for any blob alignment', () => {
    const run = new ShmRun(root);
    const { channel: coordinator, down, up } = run.channel(0);
    const worker = new ShmChannel(up, down, 1);
    const weights = Float32Array.from({ length: 40_000 }, (_, i) => Math.sin(i) * 1e-3);
    for (const count of [1, 2, 3, 5, 64]) {
      const msg = compute(count, weights, count);
      const sent = coordinator.send(msg);
      expect(isShmRef(sent)).toBe(true);
      const frame = worker.receive(sent, 64e6) as Uint8Array;
      // The same bytes as the inline frame, padding and all.
      expect(bytes(frame).equals(bytes(encodeMessage(msg)))).toBe(true);
      const got = decodeMessage(frame, 'compute');
      expect(bytes(got.weights as Float32Array).equals(bytes(weights))).toBe(true);
      expect(Array.from(got.labels)).toEqual(Array.from((msg as { labels: Uint8Array }).labels));
    }
    const small: Message = { type: 'shutdown', reason: 'done' };
    const inline = coordinator.send(small);
    expect(inline).toBeInstanceOf(Uint8Array);
    expect((inline as Uint8Array).byteLength).toBeLessThan(SHM_MIN_BYTES);
    expect(worker.receive(inline, 64e6)).toBe(inline);
    worker.close();
    run.close();
  });

  it('reads into a ring of buffers: a frame stays intact for `receiveBuffers` receives, no longer', () => {
    const run = new ShmRun(root);
    const { channel: coordinator, down, up } = run.channel(3);
    const worker = new ShmChannel(up, down, 1);
    const reply = (k: number) => worker.send({ type: 'gradient', step: k, loss: 0, correct: 0, count: 1, gradients: new Float32Array(100_000).fill(k), weightsVersion: 0, computeMs: 1 });
    const first = decodeMessage(coordinator.receive(reply(1), 64e6), 'gradient');
    const second = decodeMessage(coordinator.receive(reply(2), 64e6), 'gradient');
    expect(first.gradients[0]).toBe(1);
    expect(second.gradients[0]).toBe(2);
    decodeMessage(coordinator.receive(reply(3), 64e6), 'gradient');
    // The third receive reused the first buffer (ring of 2, the coordinator's default).
    expect(first.gradients[0]).toBe(3);
    expect(second.gradients[0]).toBe(2);
    worker.close();
    run.close();
  });

  it.runIf(existsSync('/dev/full'))('falls back to inline frames, for good, when the file cannot be written (a full /dev/shm)', () => {
    // Every write to /dev/full fails with ENOSPC.
    const channel = new ShmChannel('/dev/full', join(root, 'in.bin'));
    const msg = compute(2, new Float32Array(40_000).fill(0.5));
    const first = channel.send(msg);
    expect(first).toBeInstanceOf(Uint8Array);
    expect(bytes(first as Uint8Array).equals(bytes(encodeMessage(msg)))).toBe(true);
    expect(channel.sendError?.message).toMatch(/ENOSPC/);
    expect(channel.send(msg)).toBeInstanceOf(Uint8Array);
    channel.close();
  });

  it('refuses a reference over the size bound, one the file cannot back, and any reference where only inline frames may come', () => {
    const run = new ShmRun(root);
    const { channel } = run.channel(0);
    const code = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (err) {
        return err instanceof ProtocolError ? err.code : `other: ${(err as Error).message}`;
      }
      return undefined;
    };
    expect(code(() => channel.receive({ shm: 1_000 }, 999))).toBe('E_PROTO_SIZE');
    expect(code(() => channel.receive({ shm: 1_000 }, 1e6))).toBe('E_PROTO_DECODE');
    expect(code(() => channel.receive({ shm: -1 }, 1e6))).toBe('E_PROTO_DECODE');
    expect(code(() => channel.receive({ shm: 1.5 }, 1e6))).toBe('E_PROTO_DECODE');
    expect(code(() => inlineOnly({ shm: 10 }))).toBe('E_PROTO_DECODE');
    const frame = new Uint8Array(8);
    expect(inlineOnly(frame)).toBe(frame);
    run.close();
  });
});

describe('ShmRun', () => {
  it('accepts a probe holding the nonce, and refuses a wrong nonce, a missing file and any name that is not a bare probe name', () => {
    const run = new ShmRun(root);
    const probe = createShmProbe(root);
    expect(run.verify({ probe: probe.probe, nonce: probe.nonce })).toBe(true);
    expect(run.verify({ probe: probe.probe, nonce: 'f'.repeat(32) })).toBe(false);
    // A file with the right content but a name that is a path, or not a probe's: never read.
    writeFileSync(join(root, 'secret'), probe.nonce);
    expect(run.verify({ probe: 'secret', nonce: probe.nonce })).toBe(false);
    expect(run.verify({ probe: `../${root.split('/').at(-1)}/${probe.probe}`, nonce: probe.nonce })).toBe(false);
    expect(run.verify({ probe: `cifar-dist-probe-${'0'.repeat(32)}`, nonce: probe.nonce })).toBe(false);
    probe.remove();
    expect(run.verify({ probe: probe.probe, nonce: probe.nonce })).toBe(false);
    run.close();
  });

  it('gives each worker its own pair of files, deletes them on release and the folder on close', () => {
    const run = new ShmRun(root);
    const a = run.channel(0);
    const b = run.channel(1);
    expect(new Set([a.down, a.up, b.down, b.up]).size).toBe(4);
    expect(readdirSync(run.dir).sort()).toEqual(['0-down.bin', '0-up.bin', '1-down.bin', '1-up.bin', 'weights.bin']);
    run.release(a.channel);
    expect(readdirSync(run.dir).sort()).toEqual(['1-down.bin', '1-up.bin', 'weights.bin']);
    run.close();
    expect(readdirSync(root)).toEqual([]);
  });

  it('removes folders left by runs whose process is gone, and keeps a live one', () => {
    const dead = join(root, 'cifar-dist-999999999-abcdef');
    mkdirSync(dead);
    writeFileSync(join(dead, '0-down.bin'), 'x');
    const live = new ShmRun(root);
    const second = new ShmRun(root);
    const left = readdirSync(root).sort();
    expect(left).not.toContain('cifar-dist-999999999-abcdef');
    expect(left).toContain(live.dir.split('/').at(-1));
    expect(left).toContain(second.dir.split('/').at(-1));
    live.close();
    second.close();
  });
});

describe('isShmChannelPaths (what a worker agrees to open)', () => {
  it("accepts a run folder's own pair and refuses anything else", () => {
    const run = new ShmRun(root);
    const { down, up } = run.channel(2);
    expect(isShmChannelPaths(root, { down, up })).toBe(true);
    expect(isShmChannelPaths(root, { down: up, up: down })).toBe(false);
    expect(isShmChannelPaths(root, { down, up: up.replace('2-up', '3-up') })).toBe(false);
    expect(isShmChannelPaths(root, { down: '/home/user/.bashrc', up })).toBe(false);
    expect(isShmChannelPaths(root, { down: `${run.dir}/../x/2-down.bin`, up })).toBe(false);
    expect(isShmChannelPaths(root, { down: join(root, '2-down.bin'), up: join(root, '2-up.bin') })).toBe(false);
    expect(isShmChannelPaths('/dev/shm', { down, up })).toBe(false);
    run.close();
  });
});

describe('SharedWeightsFile', () => {
  it('round-trips weights byte for byte, writes once per version, and refuses a stale or torn file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cifar-dist-weights-'));
    try {
      const file = new SharedWeightsFile(join(dir, 'weights.bin'));
      const reader = new SharedWeightsReader(join(dir, 'weights.bin'));
      const w = Float32Array.from({ length: 100_001 }, (_, i) => Math.sin(i));
      const bytes = file.publish(3, 7, w);
      expect(bytes).toBe(100_001 * 4 + 32);
      expect(Buffer.from(reader.read(bytes, 3, 7, 64e6).slice().buffer).equals(Buffer.from(w.buffer))).toBe(true);
      // the same version again is not rewritten: a change to the caller's array does not reach the file
      w[0] = 42;
      file.publish(3, 7, w);
      expect(reader.read(bytes, 3, 7, 64e6)[0]).toBe(0);
      expect(() => reader.read(bytes, 3, 6, 64e6)).toThrow(/holds model 3 version 7 \(trailer 3\/7\), the request is for model 3 version 6/);
      expect(() => reader.read(bytes, 3, 7, 1000)).toThrow(/E_PROTO_SIZE|exceed the bound of 1000 bytes/);
      expect(() => reader.read(bytes + 4, 3, 7, 64e6)).toThrow(/holds 400036/);
      // a writer that died mid-way (it writes the trailer first, the header last): they disagree
      file.publish(3, 8, w);
      writeFileSync(join(dir, 'weights.bin'), new Uint8Array(new Float64Array([3, 9]).buffer), { flag: 'r+' });
      expect(() => reader.read(bytes, 3, 9, 64e6)).toThrow(/holds model 3 version 9 \(trailer 3\/8\)/);
      const torn = new SharedWeightsFile(join(dir, 'weights.bin'));
      torn.publish(3, 10, w);
      const trailerAt = bytes - 16;
      const raw = readFileSync(join(dir, 'weights.bin'));
      raw.set(new Uint8Array(new Float64Array([3, 11]).buffer), trailerAt);
      writeFileSync(join(dir, 'weights.bin'), raw);
      expect(() => reader.read(bytes, 3, 10, 64e6)).toThrow(/holds model 3 version 10 \(trailer 3\/11\)/);
      torn.close();
      file.close();
      reader.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
