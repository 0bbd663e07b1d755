import { CallbackError } from '../errors.js';
import { LimitExceeded } from './_runtime.js';

/** What jsonata said about a failing expression, kept on the {@link CallbackError} it becomes. */
export interface ExpressionDetails {
  /** jsonata's own error code, e.g. `S0201` (syntax) or `T2001` (type); absent for our own limits. */
  readonly jsonataCode?: string;
  /** Character offset in the expression jsonata reports the error at. */
  readonly position?: number;
  /** The token jsonata reports the error at. */
  readonly token?: string;
}

/** A {@link CallbackError} from a payload expression: `CALLBACK_EXPRESSION` or `CALLBACK_LIMIT`, with details. */
export type TransformError = CallbackError & ExpressionDetails;

// jsonata's own guards: D1011 stack depth, D1012 timeout, D2014 range over 1e7 items, D2015 sequence size.
const LIMIT_CODES: ReadonlySet<string> = new Set(['D1011', 'D1012', 'D2014', 'D2015']);

interface JsonataFailure {
  code: string;
  message?: unknown;
  position?: unknown;
  token?: unknown;
}

// jsonata throws plain objects with a code like S0201 or T2001; anything else (a Node error with an ERR_ code
// from a caller's binding, say) is reported as a plain failure.
function isJsonataFailure(error: unknown): error is JsonataFailure {
  if (error === null || typeof error !== 'object') return false;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^[A-Z]\d{4}$/.test(code);
}

function withDetails(error: CallbackError, details: ExpressionDetails): TransformError {
  return Object.assign(error, details);
}

/** Turn whatever an expression threw (jsonata's plain error objects, engine errors, our limits) into one error. */
export function toTransformError(error: unknown): TransformError {
  if (error instanceof CallbackError) return error;
  if (error instanceof LimitExceeded) {
    return new CallbackError('CALLBACK_LIMIT', `payload expression over its limit: ${error.what}`);
  }
  if (error instanceof RangeError) {
    // The engine's own stack or string size ran out: an expression too deep or building something too large.
    return new CallbackError('CALLBACK_LIMIT', `payload expression over its limit: ${error.message}`, {
      cause: error,
    });
  }
  if (isJsonataFailure(error)) {
    const position = typeof error.position === 'number' ? error.position : undefined;
    const token = typeof error.token === 'string' ? error.token : undefined;
    const text = typeof error.message === 'string' && error.message !== '' ? error.message : 'failed';
    const where = position === undefined ? 'payload expression' : `payload expression at position ${position}`;
    const code = LIMIT_CODES.has(error.code) ? 'CALLBACK_LIMIT' : 'CALLBACK_EXPRESSION';
    const details: { jsonataCode: string; position?: number; token?: string } = { jsonataCode: error.code };
    if (position !== undefined) details.position = position;
    if (token !== undefined) details.token = token;
    return withDetails(new CallbackError(code, `${where}: ${text} (${error.code})`, { cause: error }), details);
  }
  const text = error instanceof Error ? error.message : String(error);
  return new CallbackError('CALLBACK_EXPRESSION', `payload expression failed: ${text}`, { cause: error });
}
