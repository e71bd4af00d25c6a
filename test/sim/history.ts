/**
 * The record of what simulated clients asked and were told: invoke, then exactly one
 * of ok (with output), fail (definitely did not take effect) or info (outcome unknown).
 * Time is a logical counter shared by all events, so "returned before invoked" is exact.
 */
import assert from 'node:assert/strict';
import type { Operation } from './linearizability.js';

export type HistoryEventType = 'invoke' | 'ok' | 'fail' | 'info';

export interface HistoryEvent<Input, Output> {
  readonly type: HistoryEventType;
  readonly time: number;
  readonly operationId: number;
  readonly clientId: number;
  readonly input: Input;
  readonly output?: Output;
  readonly note?: string;
}

interface OpenOperation<Input> {
  readonly clientId: number;
  readonly input: Input;
  readonly invokeTime: number;
}

export class HistoryRecorder<Input, Output> {
  readonly events: HistoryEvent<Input, Output>[] = [];
  private readonly open = new Map<number, OpenOperation<Input>>();
  private readonly openByClient = new Set<number>();
  private readonly completed: Operation<Input, Output>[] = [];
  private clock = 0;
  private nextOperationId = 1;

  /** `eventsMax` bounds the memory of one history. */
  constructor(private readonly eventsMax: number = 200_000) {
    assert.ok(eventsMax >= 2, 'eventsMax must allow at least one operation');
  }

  invoke(clientId: number, input: Input): number {
    assert.ok(!this.openByClient.has(clientId), `client ${clientId} already has an operation in flight`);
    const operationId = this.nextOperationId++;
    const time = this.tick();
    this.open.set(operationId, { clientId, input, invokeTime: time });
    this.openByClient.add(clientId);
    this.push({ type: 'invoke', time, operationId, clientId, input });
    return operationId;
  }

  ok(operationId: number, output: Output): void {
    const operation = this.close(operationId);
    const time = this.tick();
    this.completed.push({ operationId, clientId: operation.clientId, input: operation.input, output, invokeTime: operation.invokeTime, returnTime: time });
    this.push({ type: 'ok', time, operationId, clientId: operation.clientId, input: operation.input, output });
  }

  /** The operation definitely did not take effect: it is left out of the check. */
  fail(operationId: number, note: string): void {
    const operation = this.close(operationId);
    this.push({ type: 'fail', time: this.tick(), operationId, clientId: operation.clientId, input: operation.input, note });
  }

  /** The outcome is unknown: it may take effect at any later time, or never. */
  info(operationId: number, note: string): void {
    const operation = this.close(operationId);
    this.completed.push({
      operationId,
      clientId: operation.clientId,
      input: operation.input,
      output: undefined,
      invokeTime: operation.invokeTime,
      returnTime: Infinity,
    });
    this.push({ type: 'info', time: this.tick(), operationId, clientId: operation.clientId, input: operation.input, note });
  }

  /** The client and input of an open operation; asserts it is open. */
  openOperation(operationId: number): { readonly clientId: number; readonly input: Input } {
    const operation = this.open.get(operationId);
    assert.ok(operation !== undefined, `operation ${operationId} is not open (completed twice, or never invoked)`);
    return operation;
  }

  isOpen(operationId: number): boolean {
    return this.open.has(operationId);
  }

  openOperationIds(): number[] {
    return [...this.open.keys()];
  }

  /**
   * The operations to check. Still-open operations count as unknown. `keep` drops
   * operations that carry no information (e.g. a read whose answer never came back).
   */
  operations(keep: (operation: Operation<Input, Output>) => boolean = () => true): Operation<Input, Output>[] {
    const stillOpen = [...this.open.entries()].map(([operationId, operation]) => ({
      operationId,
      clientId: operation.clientId,
      input: operation.input,
      output: undefined,
      invokeTime: operation.invokeTime,
      returnTime: Infinity,
    }));
    return [...this.completed, ...stillOpen].filter(keep);
  }

  private close(operationId: number): OpenOperation<Input> {
    const operation = this.open.get(operationId);
    assert.ok(operation !== undefined, `operation ${operationId} is not open (completed twice, or never invoked)`);
    this.open.delete(operationId);
    this.openByClient.delete(operation.clientId);
    return operation;
  }

  private tick(): number {
    this.clock += 1;
    return this.clock;
  }

  private push(event: HistoryEvent<Input, Output>): void {
    assert.ok(this.events.length < this.eventsMax, `history exceeds eventsMax (${this.eventsMax})`);
    this.events.push(event);
  }
}
