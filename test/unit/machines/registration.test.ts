import { createActor, fromPromise, SimulatedClock, type InspectionEvent } from 'xstate';
import { describe, expect, it } from 'vitest';
import type { StoredCredentialsView } from '../../../machines/registration/decisions.ts';
import {
  routineRegistrationStates,
  registrationMachine,
  type RequestInput,
  type RequestView,
  type StoreInput,
  type SubmitInput,
  type VerifyInput,
} from '../../../machines/registration/machine.ts';
import { registrationDelays, rejectedApprovalPolicy } from '../../../machines/registration/timing.ts';
import { transitionLogger, transitionRecorder } from '../../../src/logging/transitions.ts';
import { logLines } from '../helpers/log-lines.ts';
import { shippedConfig } from './shipped-config.ts';

const parentUrl = 'https://parent:6443';
const fail = (kind: string, message = kind) => Object.assign(new Error(message), { kind });
const pending: RequestView = {
  result: undefined,
  errorMessage: undefined,
  clusterName: 'c-1',
  dedicatedNamespace: undefined,
  managedClusterName: undefined,
  carriesCredentials: false,
};
const approved: RequestView = {
  ...pending,
  result: 'Approved',
  carriesCredentials: true,
  dedicatedNamespace: 'clusternet-abcde',
  managedClusterName: 'c-1',
};
const denied: RequestView = { ...pending, result: 'Denied', errorMessage: 'no' };
const stored = (url = parentUrl): StoredCredentialsView => ({
  parentUrl: url,
  hasToken: true,
  hasCa: true,
  namespace: 'ns',
});

interface Fakes {
  identity: () => Promise<{ clusterId: string }>;
  stored: () => Promise<StoredCredentialsView | undefined>;
  submit: (i: SubmitInput) => Promise<undefined>;
  read: (i: RequestInput) => Promise<RequestView>;
  store: (i: StoreInput) => Promise<undefined>;
  verify: (i: VerifyInput) => Promise<undefined>;
}

const ok = (): Promise<undefined> => Promise.resolve(undefined);
const defaults: Fakes = {
  identity: () => Promise.resolve({ clusterId: '11111111-2222-3333-4444-555555555555' }),
  stored: () => Promise.resolve(undefined),
  submit: ok,
  read: () => Promise.resolve(approved),
  store: ok,
  verify: ok,
};

/** Runs the machine with fakes under a simulated clock; records every state entered. */
function start(overrides: Partial<Fakes> = {}, clusterName?: string, inspect?: (ev: InspectionEvent) => void) {
  const f = { ...defaults, ...overrides };
  const calls: { submit: SubmitInput[]; read: RequestInput[]; store: StoreInput[]; verify: VerifyInput[] } = {
    submit: [],
    read: [],
    store: [],
    verify: [],
  };
  /** What the agent would hear (sendParent). */
  const reports: string[] = [];
  /** Each passing re-check of the credentials, as the agent would hear it (credentials.confirmed). */
  const confirmations: number[] = [];
  /** The warnings the machine asked for (a 403 on a check of the dedicated credentials). */
  const warnings: (string | undefined)[] = [];
  const machine = registrationMachine.provide({
    actors: {
      resolveIdentity: fromPromise(() => f.identity()),
      loadStoredCredentials: fromPromise(() => f.stored()),
      submitRequest: fromPromise<undefined, SubmitInput>(({ input }) => {
        calls.submit.push(input);
        return f.submit(input);
      }),
      readRequest: fromPromise<RequestView, RequestInput>(({ input }) => {
        calls.read.push(input);
        return f.read(input);
      }),
      storeCredentials: fromPromise<undefined, StoreInput>(({ input }) => {
        calls.store.push(input);
        return f.store(input);
      }),
      verifyCredentials: fromPromise<undefined, VerifyInput>(({ input }) => {
        calls.verify.push(input);
        return f.verify(input);
      }),
    },
    actions: {
      reportRegistered: () => {
        reports.push('registered');
      },
      reportRevoked: () => {
        reports.push('revoked');
      },
      reportConfirmed: () => {
        confirmations.push(clock.now());
      },
      warnLackingPermission: ({ context }) => {
        warnings.push(context.lastFailure);
      },
    },
    // The shipped timing policy, without jitter.
    delays: {
      ...registrationDelays(() => 0, {
        credentialCheckIntervalMs: shippedConfig().extensions.credentialCheckIntervalMs,
      }),
    },
  });
  const clock = new SimulatedClock();
  const trace: string[] = [];
  const record = transitionRecorder((t) => {
    if (t.machine === 'registration') trace.push(t.to);
  });
  const actor = createActor(machine, {
    input: { parentUrl, clusterName },
    clock,
    inspect: (ev) => {
      record(ev);
      inspect?.(ev);
    },
  });
  actor.start();
  /** Lets promise actors settle, then advances simulated time. */
  const advance = async (ms = 0): Promise<void> => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    if (ms > 0) {
      clock.increment(ms);
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    }
  };
  return {
    actor,
    trace,
    advance,
    calls,
    reports,
    confirmations,
    warnings,
    context: () => actor.getSnapshot().context,
  };
}

const toApproval = ['resolvingIdentity', 'loadingStoredCredentials', 'requesting', 'awaitingApproval.polling'];
const afterApproval = ['storingCredentials.writing', 'verifying', 'registered'];

describe('registration statechart', () => {
  it('registers a fresh cluster, reading the request at once and then after 250 ms, doubling', async () => {
    let reads = 0;
    const r = start({ read: () => Promise.resolve(++reads < 3 ? pending : approved) });
    await r.advance();
    expect(r.trace).toEqual([...toApproval, 'awaitingApproval.waitingToPoll']);
    await r.advance(249);
    expect(r.trace.at(-1)).toBe('awaitingApproval.waitingToPoll');
    await r.advance(1); // 250 ms: second read (still pending), then 500 ms to the third
    await r.advance(500);
    expect(r.trace).toEqual([
      ...toApproval,
      'awaitingApproval.waitingToPoll',
      'awaitingApproval.polling',
      'awaitingApproval.waitingToPoll',
      'awaitingApproval.polling',
      ...afterApproval,
    ]);
    expect(r.context()).toMatchObject({ clusterName: 'c-1', dedicatedNamespace: 'clusternet-abcde', attempt: 0 });
    expect(r.calls.submit).toEqual([
      { clusterId: '11111111-2222-3333-4444-555555555555', clusterName: undefined, credentials: 'bootstrap' },
    ]);
    expect(r.calls.read).toHaveLength(3);
    expect(r.calls.verify).toEqual([{ clusterId: '11111111-2222-3333-4444-555555555555', credentials: 'approved' }]);
    expect(r.context()).toMatchObject({ credentialSource: 'stored', held: { stored: true, approved: true } });
  });

  it('reads a pending request ever more slowly, up to one read every 5 s', async () => {
    const r = start({ read: () => Promise.resolve(pending) });
    const readsAt: number[] = [];
    let t = 0;
    await r.advance();
    readsAt.push(...r.calls.read.map(() => t));
    for (let ms = 0; ms < 25_000; ms += 50) {
      const before = r.calls.read.length;
      await r.advance(50);
      t += 50;
      if (r.calls.read.length > before) readsAt.push(t);
    }
    const gaps = readsAt.slice(1).map((at, i) => at - (readsAt[i] ?? 0));
    expect(gaps.slice(0, 8)).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
    expect(r.trace.every((st) => !st.includes('watch'))).toBe(true);
  });

  it('has no watch of the request: the hub grants only get and create on it', () => {
    expect(Object.keys(registrationMachine.implementations.actors).sort()).toEqual([
      'loadStoredCredentials',
      'readRequest',
      'resolveIdentity',
      'storeCredentials',
      'submitRequest',
      'verifyCredentials',
    ]);
  });

  it('uses stored credentials that match the parent URL', async () => {
    const r = start({
      stored: () => Promise.resolve(stored()),
    });
    await r.advance();
    expect(r.trace).toEqual([...toApproval, ...afterApproval]);
    expect(r.calls.submit[0]?.credentials).toBe('stored');
  });

  it('registers anew with the bootstrap token when the parent URL changed', async () => {
    const r = start({
      stored: () => Promise.resolve(stored('https://old:6443')),
    });
    await r.advance();
    expect(r.trace).toEqual([
      'resolvingIdentity',
      'loadingStoredCredentials',
      'parentUrlChanged',
      'requesting',
      'awaitingApproval.polling',
      ...afterApproval,
    ]);
    expect(r.calls.submit[0]?.credentials).toBe('bootstrap');
  });

  it('falls back to the bootstrap token at once when stored credentials are rejected', async () => {
    const r = start({
      stored: () => Promise.resolve(stored()),
      submit: (i) => (i.credentials === 'stored' ? Promise.reject(fail('unauthorized', '401 Unauthorized')) : ok()),
    });
    await r.advance();
    expect(r.trace).toEqual([
      'resolvingIdentity', 'loadingStoredCredentials', 'requesting', 'rejected', 'storedCredentialsRejected',
      'requesting', 'awaitingApproval.polling', ...afterApproval,
    ]); // prettier-ignore
    expect(r.calls.submit.map((s) => s.credentials)).toEqual(['stored', 'bootstrap']);
  });

  it('backs off (capped, growing) while the bootstrap token is rejected, and recovers', async () => {
    let rejections = 3;
    const r = start({
      submit: () => (rejections-- > 0 ? Promise.reject(fail('unauthorized', '401 token')) : ok()),
    });
    await r.advance();
    expect(r.trace.slice(-2)).toEqual(['rejected', 'bootstrapTokenRejected']);
    expect(r.context()).toMatchObject({ attempt: 1, lastFailure: '401 token' });
    await r.advance(499);
    expect(r.calls.submit).toHaveLength(1);
    await r.advance(1); // 500 ms
    expect(r.calls.submit).toHaveLength(2);
    await r.advance(1000); // then 1 s
    expect(r.calls.submit).toHaveLength(3);
    await r.advance(1999);
    expect(r.calls.submit).toHaveLength(3);
    await r.advance(1); // then 2 s
    expect(r.trace.slice(-3)).toEqual(afterApproval);
    expect(r.context().attempt).toBe(0);
  });

  it.each([
    ['unreachable', 'parentUnreachable'],
    ['invalid', 'requestInvalid'],
    ['other', 'parentUnreachable'],
  ])('a %s failure creating the request leads to %s and a retry', async (kind, state) => {
    let failures = 1;
    const r = start({
      submit: () => (failures-- > 0 ? Promise.reject(fail(kind)) : ok()),
    });
    await r.advance();
    expect(r.trace.at(-1)).toBe(state);
    await r.advance(500);
    expect(r.trace.slice(-3)).toEqual(afterApproval);
  });

  it('keeps waiting through an unreachable parent while polling', async () => {
    let reads = 0;
    const r = start({
      read: () => (++reads === 1 ? Promise.reject(fail('unreachable', 'ECONNREFUSED')) : Promise.resolve(approved)),
    });
    await r.advance();
    expect(r.trace.at(-1)).toBe('awaitingApproval.parentUnreachable');
    expect(r.context().lastFailure).toBe('ECONNREFUSED');
    await r.advance(500);
    expect(r.trace.slice(-4)).toEqual(['awaitingApproval.polling', ...afterApproval]);
  });

  it('goes to bootstrapTokenRejected when the token dies while waiting', async () => {
    const r = start({ read: () => Promise.reject(fail('unauthorized', '401')) });
    await r.advance();
    expect(r.trace.slice(-3)).toEqual(['awaitingApproval.polling', 'rejected', 'bootstrapTokenRejected']);
  });

  it('requests again when the request disappears while waiting', async () => {
    let reads = 0;
    const r = start({ read: () => (++reads === 1 ? Promise.reject(fail('notFound')) : Promise.resolve(approved)) });
    await r.advance();
    expect(r.trace.slice(3)).toEqual(['awaitingApproval.polling', 'requestVanished']);
    await r.advance(500);
    expect(r.calls.submit).toHaveLength(2);
    expect(r.trace.slice(5)).toEqual(['requesting', 'awaitingApproval.polling', ...afterApproval]);
  });

  it('stays denied, re-reading slowly, and requests again once the request is deleted', async () => {
    let reads = 0;
    const r = start({
      read: () =>
        ++reads === 1
          ? Promise.resolve(denied)
          : reads === 2
            ? Promise.resolve(denied)
            : Promise.reject(fail('notFound')),
    });
    await r.advance();
    expect(r.trace.at(-1)).toBe('denied.waiting');
    expect(r.context().lastFailure).toBe('no');
    await r.advance(30_000);
    expect(r.trace.slice(-2)).toEqual(['denied.rereading', 'denied.waiting']);
    await r.advance(30_000);
    expect(r.trace.slice(-2)).toEqual(['denied.rereading', 'requestVanished']);
    await r.advance(500);
    expect(r.trace.slice(-3)).toEqual(['requesting', 'awaitingApproval.polling', 'requestVanished']);
  });

  it('adopts the cluster name from the request label and uses it for the next request', async () => {
    let reads = 0;
    const r = start({ read: () => (++reads === 1 ? Promise.reject(fail('notFound')) : Promise.resolve(approved)) });
    await r.advance(500);
    expect(r.calls.submit.map((s) => s.clusterName)).toEqual([undefined, undefined]);
    const r2 = start({ read: () => Promise.resolve(pending) });
    await r2.advance();
    expect(r2.context().clusterName).toBe('c-1');
  });

  it('retries storing credentials with backoff', async () => {
    let failures = 2;
    const r = start({
      store: () => (failures-- > 0 ? Promise.reject(fail('other', 'secrets forbidden')) : ok()),
    });
    await r.advance();
    expect(r.trace.slice(-2)).toEqual(['storingCredentials.writing', 'storingCredentials.backingOff']);
    await r.advance(500);
    await r.advance(1000);
    expect(r.trace.slice(-3)).toEqual(['storingCredentials.writing', 'verifying', 'registered']);
  });

  it('handles approved credentials that the parent rejects by re-reading the request after a pause', async () => {
    let verifies = 0;
    const r = start({
      verify: () => (++verifies === 1 ? Promise.reject(fail('unauthorized', '401')) : ok()),
    });
    await r.advance();
    expect(r.trace.slice(-2)).toEqual(['verifying', 'approvedCredentialsRejected']);
    expect(r.context()).toMatchObject({ rejectedApprovals: 1, problem: 'approvedCredentialsRejected' });
    await r.advance(4999);
    expect(r.trace.at(-1)).toBe('approvedCredentialsRejected');
    await r.advance(1); // 5 s
    expect(r.trace.slice(-4)).toEqual(['awaitingApproval.polling', ...afterApproval]);
    // The request exists (it was just read): no new POST, and every count starts over once verified.
    expect(r.calls.submit).toHaveLength(1);
    expect(r.calls.read.map((i) => i.credentials)).toEqual(['bootstrap', 'bootstrap']);
    expect(r.context()).toMatchObject({ rejectedApprovals: 0, problem: undefined, attempt: 0 });
  });

  it('backs off ever longer, across loops, while the parent keeps rejecting the credentials it approved', async () => {
    const r = start({ verify: () => Promise.reject(fail('unauthorized', '401 Unauthorized')) });
    await r.advance();
    const cycle = [
      'awaitingApproval.polling',
      'storingCredentials.writing',
      'verifying',
      'approvedCredentialsRejected',
    ];
    expect(r.trace).toEqual([...toApproval, ...cycle.slice(1)]);
    // Step the clock by 100 ms and note when each verification happens.
    const verifiedAt: number[] = [0];
    let now = 0;
    while (now < 600_000) {
      const before = r.calls.verify.length;
      await r.advance(100);
      now += 100;
      if (r.calls.verify.length > before) verifiedAt.push(now);
    }
    const gaps = verifiedAt.slice(1).map((at, i) => at - (verifiedAt[i] ?? 0));
    expect(gaps).toEqual([5000, 10_000, 20_000, 40_000, 80_000, 120_000, 120_000, 120_000]);
    expect(gaps).toEqual(gaps.map((_, i) => Math.min(rejectedApprovalPolicy.maxMs, 5000 * 2 ** i)));
    // The whole trace: the same loop, through the request's read, never a new POST.
    expect(r.trace).toEqual([...toApproval, ...cycle.slice(1), ...Array.from({ length: 8 }, () => cycle).flat()]);
    expect(r.calls.submit).toHaveLength(1);
    expect(r.context()).toMatchObject({ rejectedApprovals: 9, problem: 'approvedCredentialsRejected' });
  });

  it('says what holds registration up until it gets on', async () => {
    let reads = 0;
    const r = start({
      read: () => (++reads === 1 ? Promise.reject(fail('unreachable', 'ECONNREFUSED')) : Promise.resolve(pending)),
    });
    await r.advance();
    expect(r.context()).toMatchObject({ problem: 'parentUnreachable', lastFailure: 'ECONNREFUSED' });
    await r.advance(500); // read again: pending, so the parent is back
    expect(r.trace.at(-1)).toBe('awaitingApproval.waitingToPoll');
    expect(r.context()).toMatchObject({ problem: undefined, lastFailure: undefined });
  });

  it('re-checks credentials periodically; keeps them when the parent is unreachable, re-registers when rejected', async () => {
    let checks = 0;
    const r = start({
      verify: () => {
        checks += 1;
        return checks === 2
          ? Promise.reject(fail('unreachable'))
          : checks === 3
            ? Promise.reject(fail('unauthorized', '401'))
            : ok();
      },
    });
    await r.advance();
    expect(r.trace.at(-1)).toBe('registered');
    await r.advance(60_000);
    expect(r.trace.slice(-2)).toEqual(['checkingCredentials', 'registered']);
    // The agent hears of the registration once, not at each passing check.
    expect(r.reports).toEqual(['registered']);
    await r.advance(60_000);
    expect(r.trace.slice(-7)).toEqual([
      'checkingCredentials',
      'credentialsRevoked',
      'requesting',
      'awaitingApproval.polling',
      ...afterApproval,
    ]);
  });

  it('checks the credentials when another component reports them rejected, keeps them if they work, and says so', async () => {
    const r = start({});
    await r.advance();
    expect(r.confirmations).toEqual([]); // the verification after approval reports registered instead
    r.actor.send({ type: 'credentials.rejected', message: 'tunnel: handshake: HTTP 403 Forbidden' });
    await r.advance();
    expect(r.trace.slice(-3)).toEqual(['registered', 'checkingCredentials', 'registered']);
    expect(r.reports).toEqual(['registered']);
    // The tunnel refused with 403 waits for this to redial (credentials.confirmed, via the agent).
    expect(r.confirmations).toHaveLength(1);
  });

  it('does not confirm credentials whose re-check fails (the parent unreachable, or a 403)', async () => {
    let checks = 0;
    const r = start({
      verify: () =>
        ++checks === 1
          ? ok()
          : Promise.reject(checks === 2 ? fail('unreachable', 'connect ECONNREFUSED') : fail('forbidden', '403')),
    });
    await r.advance();
    r.actor.send({ type: 'credentials.rejected', message: 'tunnel: handshake: HTTP 403 Forbidden' });
    await r.advance();
    r.actor.send({ type: 'credentials.rejected', message: 'tunnel: handshake: HTTP 403 Forbidden' });
    await r.advance();
    expect(r.trace.slice(-4)).toEqual(['checkingCredentials', 'registered', 'checkingCredentials', 'registered']);
    expect(r.confirmations).toEqual([]);
  });

  it('logs a parent unreachable across re-checks once when it starts and once when it recovers', async () => {
    const { log, lines } = logLines();
    let checks = 0;
    const r = start(
      {
        // The check after approval passes; the next three find the parent unreachable; the fifth passes.
        verify: () =>
          ++checks === 1 || checks === 5
            ? ok()
            : Promise.reject(fail('unreachable', `connect ECONNREFUSED 127.0.0.1:${String(40000 + checks)}`)),
      },
      undefined,
      transitionLogger(log, { routine: new Map([['registration', routineRegistrationStates]]) }),
    );
    await r.advance();
    const interval = shippedConfig().extensions.credentialCheckIntervalMs;
    for (let i = 0; i < 4; i++) await r.advance(interval);
    expect(checks).toBe(5);
    const registered = lines.indexOf('info registration: verifying → registered');
    expect(lines.slice(registered + 1)).toEqual([
      'debug registration: registered → checkingCredentials',
      'warn registration: checkingCredentials → registered',
      ...Array<string[]>(2)
        .fill([
          'debug registration: registered → checkingCredentials',
          'debug registration: checkingCredentials → registered',
        ])
        .flat(),
      'debug registration: registered → checkingCredentials',
      'info registration: checkingCredentials → registered (recovered)',
    ]);
  });

  it('starts the backoff of registering again afresh when credentials are revoked after failed re-checks', async () => {
    let checks = 0;
    const submitted: number[] = [];
    const r = start({
      // After approval: three re-checks find the parent unreachable, the fourth is refused (401).
      verify: () =>
        ++checks === 1
          ? ok()
          : Promise.reject(checks === 5 ? fail('unauthorized', '401') : fail('unreachable', 'connect ECONNREFUSED')),
      submit: () => {
        submitted.push(checks);
        return submitted.length === 2 ? Promise.reject(fail('unreachable', 'connect ECONNREFUSED')) : ok();
      },
    });
    await r.advance();
    const interval = shippedConfig().extensions.credentialCheckIntervalMs;
    for (let i = 0; i < 4; i++) await r.advance(interval);
    expect(r.reports).toEqual(['registered', 'revoked']);
    expect(submitted).toEqual([0, 5]);
    // The revocation and the new request's failure count, the failed re-checks before them do not: the
    // next retry waits the second step of the backoff, not the fifth.
    expect(r.context().attempt).toBe(2);
  });

  it('re-registers when another component reports rejected credentials and the parent rejects them too', async () => {
    let verifies = 0;
    const r = start({
      // The first verification (after approval) passes; the re-check after the report is refused.
      verify: () => (++verifies === 2 ? Promise.reject(fail('unauthorized', '401')) : Promise.resolve(undefined)),
    });
    await r.advance();
    r.actor.send({ type: 'credentials.rejected', message: 'heartbeat: 401' });
    await r.advance();
    expect(r.trace.slice(-8)).toEqual([
      'registered',
      'checkingCredentials',
      'credentialsRevoked',
      'requesting',
      'awaitingApproval.polling',
      ...afterApproval,
    ]);
    expect(r.reports).toEqual(['registered', 'revoked', 'registered']);
    expect(r.calls.submit.at(-1)?.credentials).toBe('bootstrap');
  });

  it('chooses the credentials of each step in its context, and drops an approval when a bootstrap request starts', async () => {
    let verifies = 0;
    let reads = 0;
    const r = start({
      stored: () => Promise.resolve(stored()),
      // The first read carries approved credentials; after the revocation, the request is pending.
      read: () => Promise.resolve(++reads === 1 ? approved : pending),
      verify: () => (++verifies === 2 ? Promise.reject(fail('unauthorized', '401')) : ok()),
    });
    await r.advance();
    expect(r.context()).toMatchObject({ credentialSource: 'stored', held: { stored: true, approved: true } });
    r.actor.send({ type: 'credentials.rejected', message: 'heartbeat: 401' });
    await r.advance();
    expect(r.trace.at(-1)).toBe('awaitingApproval.waitingToPoll');
    expect(r.calls.submit.map((i) => i.credentials)).toEqual(['stored', 'bootstrap']);
    expect(r.calls.read.map((i) => i.credentials)).toEqual(['stored', 'bootstrap']);
    expect(r.calls.verify.map((i) => i.credentials)).toEqual(['approved', 'approved']);
    expect(r.calls.store.map((i) => i.credentials)).toEqual(['approved']);
    // The earlier approval is not used again; the Secret's credentials are still held (not in use).
    expect(r.context()).toMatchObject({ credentialSource: 'bootstrap', held: { stored: true, approved: false } });
  });

  it('has nothing to store when the approved request carries no token, and checks the stored credentials', async () => {
    const r = start({
      stored: () => Promise.resolve(stored('https://old:6443')),
      read: () => Promise.resolve({ ...approved, carriesCredentials: false }),
      store: (i) => (i.credentials === undefined ? Promise.reject(fail('other', 'no token')) : ok()),
    });
    await r.advance();
    expect(r.trace.at(-1)).toBe('storingCredentials.backingOff');
    expect(r.calls.store[0]?.credentials).toBeUndefined();
    expect(r.context().held).toEqual({ stored: true, approved: false });
  });

  it('keeps serving when a periodic re-check gets a 403, warns, and checks again later', async () => {
    let checks = 0;
    const r = start({
      // After approval: passes; first re-check: 403 (the ClusterRole is being recreated); then passes.
      verify: () => (++checks === 2 ? Promise.reject(fail('forbidden', '403 forbidden')) : ok()),
    });
    await r.advance();
    await r.advance(60_000);
    expect(r.trace.slice(-3)).toEqual(['registered', 'checkingCredentials', 'registered']);
    expect(r.warnings).toEqual(['403 forbidden']);
    expect(r.reports).toEqual(['registered']);
    await r.advance(60_000);
    expect(r.calls.verify).toHaveLength(3);
    expect(r.trace.slice(-2)).toEqual(['checkingCredentials', 'registered']);
    expect(r.trace).not.toContain('credentialsRevoked');
    expect(r.calls.submit).toHaveLength(1);
  });

  it('keeps serving when a component reports a refusal and the re-check gets a 403', async () => {
    let checks = 0;
    const r = start({ verify: () => (++checks === 2 ? Promise.reject(fail('forbidden', '403 sockets')) : ok()) });
    await r.advance();
    r.actor.send({ type: 'credentials.rejected', message: 'tunnel: handshake: HTTP 403 Forbidden' });
    await r.advance();
    expect(r.trace.slice(-3)).toEqual(['registered', 'checkingCredentials', 'registered']);
    expect(r.warnings).toEqual(['403 sockets']);
    expect(r.reports).toEqual(['registered']);
  });

  it('retries the verification after approval on a 403 instead of going back to the bootstrap token', async () => {
    let checks = 0;
    const r = start({ verify: () => (++checks === 1 ? Promise.reject(fail('forbidden', '403 no role yet')) : ok()) });
    await r.advance();
    expect(r.trace.slice(-2)).toEqual(['verifying', 'verificationFailed']);
    expect(r.warnings).toEqual(['403 no role yet']);
    await r.advance(500);
    expect(r.trace.slice(-2)).toEqual(['verifying', 'registered']);
    expect(r.calls.submit).toHaveLength(1);
  });

  it('retries reading the identity and the stored Secret', async () => {
    let ids = 0;
    let secrets = 0;
    const r = start({
      identity: () =>
        ++ids === 1
          ? Promise.reject(new Error('leases forbidden'))
          : Promise.resolve({ clusterId: '11111111-2222-3333-4444-555555555555' }),
      stored: () => (++secrets === 1 ? Promise.reject(new Error('secrets forbidden')) : Promise.resolve(undefined)),
    });
    await r.advance();
    expect(r.trace).toEqual(['resolvingIdentity', 'identityUnavailable']);
    expect(r.context().lastFailure).toBe('leases forbidden');
    await r.advance(500);
    expect(r.trace.slice(-2)).toEqual(['loadingStoredCredentials', 'storedCredentialsUnreadable']);
    await r.advance(500);
    expect(r.trace).toContain('requesting');
  });

  it('refuses to run without its effects provided', () => {
    const errors: unknown[] = [];
    const actor = createActor(registrationMachine, { input: { parentUrl, clusterName: undefined } });
    actor.subscribe({ error: (e) => errors.push(e) });
    actor.start();
    return new Promise<void>((resolve) => {
      setImmediate(() => {
        expect(errors[0]).toBeInstanceOf(Error);
        expect((errors[0] as Error).message).toMatch(/not provided/);
        resolve();
      });
    });
  });
});
