// The socket chart's `session` actor: one websocket session as a stream. Its inputs (the credentials
// read, the websocket's events, the relay's hold and failure, the chart's pings) are merged into one
// stream of session inputs; `sessionStep` (machines/socket/session.ts) decides, and this file carries
// out the effects it names and passes its reports on to the chart. The token stays in this closure.

import { Observable, Subject, Subscription } from 'rxjs';
import type { SessionCommand, SessionInput, SocketEvent } from '../../machines/socket/machine.ts';
import {
  initialSession,
  sessionStep,
  type SessionEffect,
  type SessionSignal,
  type SessionState,
} from '../../machines/socket/session.ts';
import { failureMessage } from '../../machines/failure.ts';
import type { Logger } from '../logging/logger.ts';
import type { ProxyFunc } from '../kube/proxy.ts';
import type { DedicatedCredentials } from '../parent/credentials-secret.ts';
import { dialAllowList } from './dial-allow-list.ts';
import { StreamRelay, type MessageTransport, type RelayLimits } from './stream-relay.ts';
import { openWebSocket, websocketInputs, type TunnelSocket } from './websocket.ts';

/** What every session of one tunnel shares. */
export interface SessionEnv {
  readonly log: Logger;
  readonly allowedTargets: readonly string[];
  readonly limits: RelayLimits;
  readonly random: () => number;
  readonly proxyFor: ProxyFunc;
  readonly generateMask: (mask: Buffer) => void;
  /** Shared across sessions, so a misbehaving parent is logged once per tunnel. */
  readonly loggedOnce: Set<string>;
  /** The dedicated credentials of the read the chart asks for (SessionInput.credentialsRead). */
  readonly credentials: (input: SessionInput) => Promise<DedicatedCredentials>;
  readonly onRelay?: ((relay: StreamRelay) => void) | undefined;
}

/** The relay's transport over the websocket; its flow-control signals go into the session's inputs. */
function transportOver(socket: TunnelSocket, inputs: Subject<SessionSignal>): MessageTransport {
  const { ws } = socket;
  // Corked until the end of this event-loop turn: an I/O detail of the write path (setImmediate), not a
  // lifecycle timer the machine would need to see.
  let corked = false;
  const uncork = (): void => {
    corked = false;
    socket.raw()?.uncork();
  };
  return {
    send: (message, done) => {
      const raw = socket.raw();
      if (!corked && raw !== undefined) {
        corked = true;
        raw.cork();
        setImmediate(uncork);
      }
      ws.send(message, { binary: true }, done);
    },
    // Pongs are not read while the reader is held: the chart's liveness waits meanwhile.
    pauseReading: () => {
      ws.pause();
      inputs.next({ type: 'relay.held' });
    },
    resumeReading: () => {
      ws.resume();
      inputs.next({ type: 'relay.released' });
    },
    fail: (reason) => {
      inputs.next({ type: 'relay.failed', reason });
    },
  };
}

/** What a session holds and does: the effects `sessionStep` names, carried out. */
class SessionEffects {
  credentials: DedicatedCredentials | undefined;
  #socket: TunnelSocket | undefined;
  #relay: StreamRelay | undefined;
  readonly #input: SessionInput;
  readonly #env: SessionEnv;
  readonly #inputs: Subject<SessionSignal>;
  readonly #subscriptions: Subscription;

  constructor(input: SessionInput, env: SessionEnv, inputs: Subject<SessionSignal>, subscriptions: Subscription) {
    this.#input = input;
    this.#env = env;
    this.#inputs = inputs;
    this.#subscriptions = subscriptions;
  }

  run(effect: SessionEffect, signal: SessionSignal): void {
    switch (effect) {
      case 'dial':
        this.#dial();
        return;
      case 'startRelay':
        this.#startRelay();
        return;
      case 'relay':
        if (signal.type === 'ws.message') this.#relay?.receive(signal.data, signal.isBinary);
        return;
      case 'ping': {
        const ws = this.#socket?.ws;
        if (ws !== undefined && ws.readyState === ws.OPEN) ws.ping();
        return;
      }
      case 'closeRelay':
        this.#relay?.close();
        return;
      case 'terminate':
        this.#socket?.ws.terminate();
    }
  }

  /** The session is stopped: the relay and the socket are closed. */
  close(): void {
    this.#relay?.close();
    this.#socket?.ws.terminate();
  }

  #dial(): void {
    if (this.credentials === undefined) return;
    const { url } = this.#input;
    try {
      this.#socket = openWebSocket(url, this.credentials, this.#env.proxyFor, this.#env.generateMask);
    } catch (err) {
      // A bad HTTPS_PROXY, say: new HttpsProxyAgent and new WebSocket throw on what they cannot use.
      this.#inputs.next({ type: 'ws.cannotOpen', reason: failureMessage(err) });
      return;
    }
    this.#subscriptions.add(
      websocketInputs(this.#socket.ws).subscribe((s) => {
        this.#inputs.next(s);
      }),
    );
  }

  #startRelay(): void {
    if (this.#socket === undefined) return;
    const env = this.#env;
    this.#relay = new StreamRelay(
      transportOver(this.#socket, this.#inputs),
      dialAllowList(this.#input.childServer, env.allowedTargets),
      env.log,
      env.limits,
      env.random,
      env.loggedOnce,
    );
    env.onRelay?.(this.#relay);
  }
}

/**
 * One session: the chart's `tunnel.opened` / `tunnel.pong` / `tunnel.pinged` / `tunnel.held` /
 * `tunnel.released`, then exactly one `tunnel.closed`. Unsubscribing closes the relay and the socket.
 */
export function sessionEvents(
  input: SessionInput,
  commands: Observable<SessionCommand>,
  env: SessionEnv,
): Observable<SocketEvent> {
  return new Observable<SocketEvent>((out) => {
    const inputs = new Subject<SessionSignal>();
    const subscriptions = new Subscription();
    const effects = new SessionEffects(input, env, inputs, subscriptions);
    let state: SessionState = initialSession;
    subscriptions.add(
      inputs.subscribe((signal) => {
        const step = sessionStep(state, signal);
        // The state first: an effect may feed another input in (the relay failing on a message).
        state = step.state;
        for (const effect of step.effects) effects.run(effect, signal);
        if (step.report !== undefined) out.next(step.report);
      }),
    );
    subscriptions.add(
      commands.subscribe((c) => {
        inputs.next(c);
      }),
    );
    env.credentials(input).then(
      (c) => {
        effects.credentials = c;
        inputs.next({ type: 'credentials.ready' });
      },
      (err: unknown) => {
        inputs.next({ type: 'credentials.unavailable', reason: failureMessage(err) });
      },
    );
    return () => {
      state = { phase: 'ended' };
      subscriptions.unsubscribe();
      inputs.complete();
      effects.close();
    };
  });
}
