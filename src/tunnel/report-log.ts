// What the agent logs of the socket chart's reports to the root (machines/events.ts): one warning per
// change of the way the tunnel fails, not one per retry, and one line when it works again.

import type { ChildReport } from '../../machines/events.ts';
import type { TunnelFailureKind } from '../../machines/socket/decisions.ts';
import type { Logger } from '../logging/logger.ts';
import { tunnelFailureText } from './actors.ts';

/** A subscriber to the reports that logs the tunnel's at `log` (the `tunnel` component's logger). */
export function tunnelReportLog(log: Logger): (r: ChildReport) => void {
  let warned: TunnelFailureKind | undefined;
  return (r) => {
    if (r.type === 'tunnel.disconnected' && r.kind !== warned) {
      warned = r.kind;
      log.warn({ kind: r.kind, reason: r.message }, `the tunnel to the parent fails: ${tunnelFailureText[r.kind]}`);
    } else if (r.type === 'tunnel.recovered') {
      warned = undefined;
      log.info('the tunnel to the parent works again');
    }
  };
}
