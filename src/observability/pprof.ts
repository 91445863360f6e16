// `--profiling` (on by default, as in the Go agent): `/debug/pprof/` serves CPU and heap profiles in
// pprof's format (gzipped protobuf), so `go tool pprof https://agent:10650/debug/pprof/profile` works
// as against a Go component. The profiles are V8's, taken through node:inspector in this thread (the
// CPU profiler, and the sampling heap profiler), and encoded with pprof-format.
//
//   /debug/pprof/                  index
//   /debug/pprof/profile?seconds=N CPU profile over N seconds (30 by default, as Go's; at most 300)
//   /debug/pprof/heap              live heap, sampled (V8's sampling heap profiler, started on first use)

import { Session } from 'node:inspector/promises';
import { gzipSync } from 'node:zlib';
import { Function as PFunction, Location, Profile, Sample, StringTable, ValueType, Line } from 'pprof-format';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
  readonly scriptId: string;
}

/** A node of a V8 CPU profile (Profiler.stop) or sampling heap profile (HeapProfiler.getSamplingProfile). */
interface CpuNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}
export interface CpuProfile {
  readonly nodes: readonly CpuNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}
interface HeapNode {
  readonly callFrame: CallFrame;
  readonly selfSize: number;
  readonly children: readonly HeapNode[];
}
export interface HeapProfile {
  readonly head: HeapNode;
  readonly samples?: readonly { readonly size: number; readonly nodeId: number }[];
}

/** Builds the functions and locations of a profile: one of each per distinct call frame. */
class Frames {
  readonly strings = new StringTable();
  readonly functions: PFunction[] = [];
  readonly locations: Location[] = [];
  readonly #byKey = new Map<string, number>();

  /** The location id of a call frame (1-based), made on first sight. */
  location(frame: CallFrame): number {
    const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
    const key = `${name}\0${frame.url}\0${String(frame.lineNumber)}\0${String(frame.columnNumber)}`;
    const known = this.#byKey.get(key);
    if (known !== undefined) return known;
    const id = this.locations.length + 1;
    this.functions.push(
      new PFunction({
        id,
        name: this.strings.dedup(name),
        systemName: this.strings.dedup(name),
        filename: this.strings.dedup(frame.url),
      }),
    );
    this.locations.push(
      new Location({
        id,
        line: [new Line({ functionId: id, line: frame.lineNumber + 1, column: frame.columnNumber + 1 })],
      }),
    );
    this.#byKey.set(key, id);
    return id;
  }
}

/** V8's CPU profile as a pprof profile: samples (count) and cpu (nanoseconds) per stack. */
export function cpuProfileToPprof(p: CpuProfile): Profile {
  const frames = new Frames();
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  const stacks = new Map<number, number[]>();
  const stackOf = (id: number): number[] => {
    const known = stacks.get(id);
    if (known !== undefined) return known;
    const stack: number[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = nodes.get(at);
      // V8's synthetic root has no frame worth showing.
      if (node !== undefined && node.callFrame.functionName !== '(root)') stack.push(frames.location(node.callFrame));
    }
    stacks.set(id, stack);
    return stack;
  };
  const totals = new Map<number, { count: number; micros: number }>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i] ?? 0;
    // A sample's time is the delta to the next sample (the last one: to the end of the profile).
    const micros = i + 1 < deltas.length ? (deltas[i + 1] ?? 0) : 0;
    const t = totals.get(id) ?? { count: 0, micros: 0 };
    totals.set(id, { count: t.count + 1, micros: t.micros + Math.max(0, micros) });
  }
  const strings = frames.strings;
  const sample = [...totals].map(
    ([id, t]) => new Sample({ locationId: stackOf(id), value: [t.count, Math.round(t.micros * 1000)] }),
  );
  return new Profile({
    sampleType: [
      new ValueType({ type: strings.dedup('samples'), unit: strings.dedup('count') }),
      new ValueType({ type: strings.dedup('cpu'), unit: strings.dedup('nanoseconds') }),
    ],
    sample,
    location: frames.locations,
    function: frames.functions,
    stringTable: strings,
    timeNanos: Math.round(p.startTime * 1000),
    durationNanos: Math.round((p.endTime - p.startTime) * 1000),
    periodType: new ValueType({ type: strings.dedup('cpu'), unit: strings.dedup('nanoseconds') }),
    period: samples.length > 0 ? Math.round(((p.endTime - p.startTime) * 1000) / samples.length) : 0,
  });
}

/** V8's sampling heap profile as a pprof profile: inuse_objects (count) and inuse_space (bytes) per stack. */
export function heapProfileToPprof(p: HeapProfile, intervalBytes: number, now = Date.now()): Profile {
  const frames = new Frames();
  const strings = frames.strings;
  const sample: Sample[] = [];
  const walk = (node: HeapNode, stack: readonly number[]): void => {
    const here = node.callFrame.functionName === '(root)' ? stack : [frames.location(node.callFrame), ...stack];
    if (node.selfSize > 0) {
      sample.push(
        new Sample({
          locationId: [...here],
          value: [Math.max(1, Math.round(node.selfSize / intervalBytes)), node.selfSize],
        }),
      );
    }
    for (const c of node.children) walk(c, here);
  };
  walk(p.head, []);
  return new Profile({
    sampleType: [
      new ValueType({ type: strings.dedup('inuse_objects'), unit: strings.dedup('count') }),
      new ValueType({ type: strings.dedup('inuse_space'), unit: strings.dedup('bytes') }),
    ],
    sample,
    location: frames.locations,
    function: frames.functions,
    stringTable: strings,
    timeNanos: now * 1_000_000,
    periodType: new ValueType({ type: strings.dedup('space'), unit: strings.dedup('bytes') }),
    period: intervalBytes,
  });
}

/** A profile as served: gzipped protobuf, as Go's net/http/pprof serves it. */
export const encodePprof = (p: Profile): Buffer => gzipSync(p.encode());

/** The sampling interval of the heap profiler: V8's default (512 KiB), as Go's MemProfileRate. */
export const heapSamplingIntervalBytes = 512 * 1024;

/** The longest CPU profile served. */
export const maxProfileSeconds = 300;

/** Takes profiles of this process through the inspector (one CPU profile at a time, as Go's). */
export class Profiler {
  readonly #session = new Session();
  #connected = false;
  #cpuBusy = false;
  #heapSampling = false;

  #connect(): Session {
    if (!this.#connected) {
      this.#session.connect();
      this.#connected = true;
    }
    return this.#session;
  }

  /** A CPU profile over `seconds`; undefined when one is being taken already. */
  async cpu(seconds: number, wait: (ms: number) => Promise<void>): Promise<Buffer | undefined> {
    if (this.#cpuBusy) return undefined;
    this.#cpuBusy = true;
    try {
      const s = this.#connect();
      await s.post('Profiler.enable');
      await s.post('Profiler.start');
      await wait(seconds * 1000);
      const { profile } = (await s.post('Profiler.stop')) as { profile: CpuProfile };
      await s.post('Profiler.disable');
      return encodePprof(cpuProfileToPprof(profile));
    } finally {
      this.#cpuBusy = false;
    }
  }

  /**
   * Starts V8's sampling heap profiler (an allocation sampled every 512 KiB on average: cheap), so a heap
   * profile shows what was allocated since, as Go's always-on memory profiling does.
   */
  async startHeapSampling(): Promise<void> {
    if (this.#heapSampling) return;
    this.#heapSampling = true;
    const s = this.#connect();
    await s.post('HeapProfiler.enable');
    await s.post('HeapProfiler.startSampling', { samplingInterval: heapSamplingIntervalBytes });
  }

  /** The sampled live heap (sampling starts with the server, or at the first request). */
  async heap(): Promise<Buffer> {
    const s = this.#connect();
    await this.startHeapSampling();
    const { profile } = (await s.post('HeapProfiler.getSamplingProfile')) as { profile: HeapProfile };
    return encodePprof(heapProfileToPprof(profile, heapSamplingIntervalBytes));
  }

  close(): void {
    if (this.#connected) this.#session.disconnect();
    this.#connected = false;
    this.#heapSampling = false;
  }
}
