/**
 * What reaches the core from outside, each followed by a wake of the Ready loop: ticks
 * (the tick timer turns the scheduler's milliseconds into the core's abstract ticks),
 * peers' messages, and the transport's reports of unreachable peers.
 */
import type { Message, NodeId } from '../raft/types.js';
import type { RuntimeState } from './runtime-state.js';

export class CoreInputs {
  readonly #state: RuntimeState;

  constructor(state: RuntimeState) {
    this.#state = state;
  }

  /** Start-up: ticks every tickMs until the node stops. */
  startTicking(): void {
    const { scheduler, tickPlan } = this.#state;
    this.#state.startTimer(scheduler.setInterval(() => this.#tick(), tickPlan.tickMs));
  }

  #tick(): void {
    const state = this.#state;
    if (state.core === undefined || state.stopped) return;
    state.ticksSinceLeaderContact += 1;
    state.core.tick();
    state.wake();
  }

  receive(message: Message): void {
    const state = this.#state;
    if (state.core === undefined || state.stopped) return;
    const fromLeader = message.from === state.leaderId || state.leaderId === '';
    if (fromLeader && (message.type === 'MsgApp' || message.type === 'MsgHeartbeat' || message.type === 'MsgSnap')) {
      state.heardFromLeader();
    }
    try {
      state.core.step(message);
    } catch (error) {
      // A peer's malformed message must not take this node down: drop it.
      state.logger.warn({ event: 'bad-message', from: message.from, type: message.type, error: String(error) }, 'dropped a message the core refused');
      return;
    }
    state.wake();
  }

  reportUnreachable(id: NodeId): void {
    this.#state.core?.reportUnreachable(id);
    this.#state.wake();
  }
}
