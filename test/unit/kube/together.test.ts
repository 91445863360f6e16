// together$ (src/kube/list-watch.ts): several list-watches as one — one `synced` once every source
// is, their changes as they come, and over with the first end (the others unsubscribed).

import { finalize, Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { together$, type ListWatchMark } from '../../../src/kube/list-watch.ts';

type Change = { readonly type: 'changed'; readonly key: string } | ListWatchMark;

function sources(n: number) {
  const subjects = Array.from({ length: n }, () => new Subject<Change>());
  const stopped: number[] = [];
  const streams = subjects.map((s, i) =>
    s.pipe(
      finalize(() => {
        stopped.push(i);
      }),
    ),
  );
  return { subjects, stopped, streams };
}

function collect(src: ReturnType<typeof sources>) {
  const seen: Change[] = [];
  let completed = false;
  const subscription = together$<Change>(src.streams).subscribe({
    next: (e) => {
      seen.push(e);
    },
    complete: () => {
      completed = true;
    },
  });
  return { seen, completed: () => completed, subscription };
}

describe('together$', () => {
  it('passes changes at once and says synced once, when the last source is', () => {
    const src = sources(2);
    const out = collect(src);
    const [a, b] = src.subjects;
    a?.next({ type: 'changed', key: 'a1' });
    a?.next({ type: 'synced' });
    expect(out.seen).toEqual([{ type: 'changed', key: 'a1' }]);
    b?.next({ type: 'changed', key: 'b1' });
    b?.next({ type: 'synced' });
    a?.next({ type: 'changed', key: 'a2' });
    expect(out.seen).toEqual([
      { type: 'changed', key: 'a1' },
      { type: 'changed', key: 'b1' },
      { type: 'synced' },
      { type: 'changed', key: 'a2' },
    ]);
    expect(out.completed()).toBe(false);
  });

  it('ends with the first source that ends (its end passed on) and stops the others', () => {
    const src = sources(3);
    const out = collect(src);
    const [a, b, c] = src.subjects;
    a?.next({ type: 'synced' });
    b?.next({ type: 'expired', message: '410 Gone' });
    c?.next({ type: 'changed', key: 'late' });
    expect(out.seen).toEqual([{ type: 'expired', message: '410 Gone' }]);
    expect(out.completed()).toBe(true);
    expect([...src.stopped].sort((x, y) => x - y)).toEqual([0, 1, 2]);
  });

  it('a failure ends it the same way', () => {
    const src = sources(2);
    const out = collect(src);
    src.subjects[1]?.next({ type: 'failed', message: 'listing HelmCharts: HTTP 500' });
    expect(out.seen).toEqual([{ type: 'failed', message: 'listing HelmCharts: HTTP 500' }]);
    expect(out.completed()).toBe(true);
  });

  it('counts synced afresh for each subscription', () => {
    const src = sources(2);
    const first = collect(src);
    src.subjects[0]?.next({ type: 'synced' });
    first.subscription.unsubscribe();
    const second = collect(src);
    src.subjects[1]?.next({ type: 'synced' });
    expect(second.seen).toEqual([]);
    src.subjects[0]?.next({ type: 'synced' });
    expect(second.seen).toEqual([{ type: 'synced' }]);
  });
});
