// The Lease's changes as an rxjs stream: one `lease.changed` per watch event of the Lease, adapted
// into the leadership chart (its `watchLease` actor, fromEventObservable) while it follows. An idle or
// expired watch resumes at once, as every watch does (machines/watch.ts: resumesAtOnce); a failed one
// completes the stream, and the chart's periodic reads go on alone.

import type { KubeConfig, V1Lease } from '@kubernetes/client-node';
import { Observable } from 'rxjs';
import type { LeadershipEvent } from '../../machines/leadership/machine.ts';
import { resumesAtOnce } from '../../machines/watch.ts';
import { watchObject } from '../kube/watch-object.ts';
import type { Logger } from '../logging/logger.ts';

export function leaseChanges(
  child: KubeConfig,
  namespace: string,
  name: string,
  log: Logger,
): Observable<LeadershipEvent> {
  return new Observable<LeadershipEvent>((subscriber) => {
    let stop = (): void => undefined;
    const start = (resourceVersion: string | undefined): void => {
      stop = watchObject<V1Lease>(
        child,
        `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
        name,
        () => {
          subscriber.next({ type: 'lease.changed' });
        },
        (end, resume) => {
          log.debug({ end: end.kind, err: end.message }, `watch of Lease ${namespace}/${name} ended`);
          if (resumesAtOnce(end.kind)) start(resume);
          else subscriber.complete();
        },
        resourceVersion,
      );
    };
    start(undefined);
    return () => {
      stop();
    };
  });
}
