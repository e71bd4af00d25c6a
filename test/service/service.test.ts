import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pack, unpack } from 'msgpackr';
import { ServiceError, isServiceError, serviceErrorCodes, type PlainServiceError } from '../../src/service/service.js';

describe('ServiceError', () => {
  it('round-trips every code through plain data and msgpack', () => {
    for (const code of serviceErrorCodes) {
      const error = new ServiceError(code, `message for ${code}`, { leaderApiAddress: code === 'NOT_LEADER' ? 'http://127.0.0.2:4001' : null });
      const copy = ServiceError.fromPlain(unpack(pack(error.toPlain())) as PlainServiceError);
      assert.ok(isServiceError(copy));
      assert.equal(copy.code, code);
      assert.equal(copy.message, `message for ${code}`);
      assert.equal(copy.leaderApiAddress, error.leaderApiAddress);
    }
  });

  it('turns an unknown code from a peer into INTERNAL, keeping the message', () => {
    const copy = ServiceError.fromPlain({ code: 'BOGUS' as never, message: 'odd', leaderApiAddress: null });
    assert.equal(copy.code, 'INTERNAL');
    assert.match(copy.message, /unknown service error code BOGUS: odd/);
  });

  it('keeps its cause and is not confused with other errors', () => {
    const cause = new Error('root');
    assert.equal(new ServiceError('TIMEOUT', 'late', { cause }).cause, cause);
    assert.equal(isServiceError(new Error('x')), false);
  });
});
