/**
 * A small event emitter with a typed event map (mediasoup's EnhancedEventEmitter is the
 * model): listeners are typed per event, a listener's exception never escapes into the
 * code that emitted (it is reported, and the other listeners still run), and `on` returns
 * the function that removes the listener.
 */
type Listener<Args extends unknown[]> = (...args: Args) => void;
/** A listener of any event, as stored (each is called only with its own event's arguments). */
type AnyListener = (...args: never[]) => void;

export class TypedEmitter<Events extends { [K in keyof Events]: unknown[] }> {
  private readonly listeners = new Map<keyof Events, Set<AnyListener>>();

  /** @param onListenerError where a listener's exception goes (default: a process warning). */
  constructor(private readonly onListenerError: (err: unknown, event: string) => void = reportListenerError) {}

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) this.listeners.set(event, (set = new Set()));
    set.add(listener as unknown as AnyListener);
    return () => this.off(event, listener);
  }

  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const off = this.on(event, ((...args: Events[K]) => {
      off();
      listener(...args);
    }) as Listener<Events[K]>);
    return off;
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    this.listeners.get(event)?.delete(listener as unknown as AnyListener);
  }

  /** Calls every listener of `event`; true when there was one. */
  emit<K extends keyof Events>(event: K, ...args: Events[K]): boolean {
    const set = this.listeners.get(event);
    if (set === undefined || set.size === 0) return false;
    for (const listener of [...set]) {
      try {
        (listener as unknown as Listener<Events[K]>)(...args);
      } catch (err) {
        this.onListenerError(err, String(event));
      }
    }
    return true;
  }

  removeAllListeners(): void {
    this.listeners.clear();
  }
}

function reportListenerError(err: unknown, event: string): void {
  process.emitWarning(`a "${event}" listener threw: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`, 'ListenerError');
}
