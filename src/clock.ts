// The agent's two clocks. Wall time (Date.now) is what other parties read: timestamps written into
// Events and Leases. Steady time never steps back: intervals the agent measures for itself (lease
// expiry, renew deadlines, the event spam filter and aggregation window) use it, so setting the node's
// clock (by hand, or a stepping NTP client) cannot shorten or stretch them.

/** Milliseconds since the epoch. */
export type Clock = () => number;

/** The wall clock: for times other parties read. */
export const wallNow: Clock = () => Date.now();

/**
 * Milliseconds since the epoch that never step back: the process's start on the wall clock plus a
 * monotonic clock. It reads as wall time at start and drifts from it only by the steps the wall clock
 * takes afterwards, so it is for measuring intervals, never for writing times others compare.
 */
export const steadyNow: Clock = () => performance.timeOrigin + performance.now();
