// The root agent machine's timing policy: how long a stopping agent waits for the deployer to drain
// (its helm runs to exit) before it releases the Lease anyway. Within the pod's default 30 s grace
// period, leaving time for the release itself.

export interface AgentTiming {
  readonly drainDeadlineMs: number;
}

export const agentTiming: AgentTiming = { drainDeadlineMs: 20_000 };

/** The root machine's named delays, from the timing numbers (src/ and the tests use the same builder). */
export function agentDelays(timing: Partial<AgentTiming> = {}): { readonly drainDeadline: number } {
  return { drainDeadline: timing.drainDeadlineMs ?? agentTiming.drainDeadlineMs };
}
