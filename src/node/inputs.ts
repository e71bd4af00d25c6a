/**
 * What reaches the core from outside, each followed by a wake of the Ready loop: ticks
 * (the tick timer turns the scheduler's milliseconds into the core's abstract ticks),
 * peers' messages, and the transport's reports of unreachable peers.
 */
import type { Message, NodeId } from '../raft/types.js';
import type { MessageSender } from '../transport/types.js';
import type { MemberDirectory } from './member-directory.js';
import type { RuntimeState } from './runtime-state.js';

export class CoreInputs {
  readonly #state: RuntimeState;
  readonly #directory: MemberDirectory;

  constructor(state: RuntimeState, directory: MemberDirectory) {
    this.#state = state;
    this.#directory = directory;
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

  /** A peer's message; `sender` is what its connection's handshake said (the transport's). */
  receive(message: Message, sender: MessageSender): void {
    const state = this.#state;
    if (state.core === undefined || state.stopped) return;
    state.heardFrom(message.from);
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
    // After the step: the core now names the leader it follows, whose address may be missing.
    if (sender.fromId === message.from) this.#directory.adoptAnnouncedAddress(message.from, sender.fromAddress);
    state.wake();
  }

  reportUnreachable(id: NodeId): void {
    this.#state.core?.reportUnreachable(id);
    this.#state.wake();
  }
}
