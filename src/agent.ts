// The running agent: the registration lifecycle (for now; heartbeat, tunnel, leadership and deployer
// join as they land), with one log line per state transition.

import { createActor, type Actor } from 'xstate';
import type { AgentConfig } from './config/config.ts';
import { childKubeConfig } from './kube/child.ts';
import type { Logger } from './logging/logger.ts';
import { transitionLogger, type TransitionRecord } from './logging/transitions.ts';
import { createRegistrationMachine } from './registration/actors.ts';
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
      } else if (s.value !== 'registered' && s.value !== 'checkingCredentials') {
        announced = false;
      }
    },
    error: (err: unknown) => {
      // A bug, not an expected failure: log and end non-zero; Kubernetes restarts us.
      log.fatal({ err }, 'registration failed unexpectedly');
      opts.onFatal(err);
    },
  });
  registration.start();
  return { registration, stop: () => registration.stop() };
}
