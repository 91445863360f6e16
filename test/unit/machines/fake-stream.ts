// A fake input stream for the machines' observable actors (fromEventObservable): `send` pushes an
// event into the chart; `stopped` runs when the chart stops the actor (unsubscribes).

import { finalize, Subject, type Observable } from 'rxjs';

export function fakeStream<E>(started: (send: (e: E) => void) => void, stopped?: () => void): Observable<E> {
  const events = new Subject<E>();
  started((e) => {
    events.next(e);
  });
  return events.pipe(finalize(() => stopped?.()));
}
