// The running agent: the registration lifecycle, and the heartbeat while registered (tunnel,
// leadership and deployer join as they land), with one log line per state transition.

import { createActor, type Actor } from 'xstate';
import type { AgentConfig } from './config/config.ts';
import { childKubeConfig } from './kube/child.ts';
import type { Logger } from './logging/logger.ts';
import { transitionLogger, type TransitionRecord } from './logging/transitions.ts';
import { createRegistrationMachine } from './registration/actors.ts';
import { createHeartbeatMachine } from './heartbeat/actors.ts';
import type { heartbeatMachine } from '../machines/heartbeat/machine.ts';
import type { registrationMachine } from '../machines/registration/machine.ts';

export interface RunningAgent {
  readonly registration: Actor<typeof registrationMachine>;
  stop(): void;
}

export function startAgent(
  config: AgentConfig,
  log: Logger,
  opts: { onTransition?: (t: TransitionRecord) => void; onFatal: (err: unknown) => void },
): RunningAgent {
  const child = childKubeConfig(config.child.kubeconfig);
  const machine = createRegistrationMachine({ config, child, log: log.child({ component: 'registration' }) });
  const registration = createActor(machine, {
    input: { parentUrl: config.registration.parentUrl, clusterName: config.registration.clusterName },
    inspect: transitionLogger(log.child({ component: 'transitions' }), opts.onTransition),
  });
  const heartbeatLogic = createHeartbeatMachine({
    config,
    child,
    log: log.child({ component: 'heartbeat' }),
    env: process.env,
    onCredentialsRejected: (message) => {
      registration.send({ type: 'credentials.rejected', message });
    },
  });
  let heartbeat: Actor<typeof heartbeatMachine> | undefined;
  const stopHeartbeat = (): void => {
    heartbeat?.stop();
    heartbeat = undefined;
  };
  let announced = false;
  registration.subscribe({
    next: (s) => {
      if (s.value === 'registered' && !announced) {
        announced = true;
        const c = s.context;
        log.info(
          { clusterId: c.clusterId, clusterName: c.clusterName, dedicatedNamespace: c.dedicatedNamespace },
          `registered with ${config.registration.parentUrl} as cluster ${c.clusterName ?? ''} (${c.clusterId ?? ''})`,
        );
        if (c.clusterId !== undefined && c.dedicatedNamespace !== undefined) {
          heartbeat = createActor(heartbeatLogic, {
            input: { clusterId: c.clusterId, dedicatedNamespace: c.dedicatedNamespace },
            inspect: transitionLogger(log.child({ component: 'transitions' }), opts.onTransition),
          });
          heartbeat.subscribe({
            error: (err: unknown) => {
              log.fatal({ err }, 'heartbeat failed unexpectedly');
              opts.onFatal(err);
            },
          });
          heartbeat.start();
        }
      } else if (s.value !== 'registered' && s.value !== 'checkingCredentials') {
        announced = false;
        stopHeartbeat();
      }
    },
    error: (err: unknown) => {
      // A bug, not an expected failure: log and end non-zero; Kubernetes restarts us.
      log.fatal({ err }, 'registration failed unexpectedly');
      opts.onFatal(err);
    },
  });
  registration.start();
  return {
    registration,
    stop: () => {
      stopHeartbeat();
      registration.stop();
    },
  };
}
