// The one adapter between the tunnel's streams and its chart: an actor whose events are an Observable
// and which takes commands from the chart as a stream too. xstate's `fromEventObservable` has no way in
// for the chart's commands (the session's `tunnel.ping`); this is it with one.

import { Subject, type Observable } from 'rxjs';
import { fromCallback, type CallbackActorLogic, type EventObject, type NonReducibleUnknown } from 'xstate';

/**
 * An actor running `events(input, commands)`: each event goes to the parent (the invoking chart), each
 * event the chart sends it goes into `commands`. Stopping the actor unsubscribes. The stream is not to
 * fail: a failure is a bug and is reported as unhandled (the process crashes loudly).
 */
export function fromCommandedObservable<
  TEvent extends EventObject,
  TCommand extends EventObject,
  TInput extends NonReducibleUnknown,
>(events: (input: TInput, commands: Observable<TCommand>) => Observable<TEvent>): CallbackActorLogic<TCommand, TInput> {
  return fromCallback<TCommand, TInput>(({ input, sendBack, receive }) => {
    const commands = new Subject<TCommand>();
    receive((c) => {
      commands.next(c);
    });
    const subscription = events(input, commands).subscribe((e) => {
      sendBack(e);
    });
    return () => {
      subscription.unsubscribe();
      commands.complete();
    };
  });
}
