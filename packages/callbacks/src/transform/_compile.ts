import { approximateSize } from './_limits.js';
import {
  append,
  BAIL,
  type Budget,
  createSequence,
  flatten,
  isArrayOfNumbers,
  isDeepEqual,
  isFunction,
  isNumeric,
  isSequence,
  LimitExceeded,
  lookup,
  NATIVES,
  type NativeFunction,
  push,
  type Sequence,
  sequenceOf,
  staticName,
  tick,
  toBoolean,
  toText,
} from './_runtime.js';

/**
 * The compiled path: jsonata 2.2's AST (after its own post-processing, `expr.ast()`) turned into plain, synchronous
 * JavaScript closures. Each closure mirrors the jsonata.js function named in its comment, minus what makes the
 * library slow for this job: an async call and an environment lookup per node. Anything outside the subset is
 * refused at compile time (the whole expression then runs on jsonata), and anything surprising at run time (a
 * type jsonata would reject, an error of any kind) throws {@link BAIL} so the caller re-runs the expression on
 * jsonata, which produces the exact result or error. Expressions are side-effect free, so running again is safe.
 */

/** What a compiled evaluation carries besides its input. */
export interface Scope {
  /** `$$`: the input as given (jsonata binds it before wrapping an array input). */
  readonly root: unknown;
  readonly bindings: Readonly<Record<string, unknown>> | undefined;
  readonly budget: Budget;
  /** The `this` jsonata gives its built-in functions. */
  readonly focus: NativeFocus;
}

export interface NativeFocus {
  readonly environment: undefined;
  readonly input: undefined;
  readonly options: { readonly sequence: number };
  createSequence(...items: unknown[]): Sequence;
}

export type Code = (input: unknown, scope: Scope) => unknown;

/** The parts of jsonata's post-processed AST the compiler reads; everything else stays `unknown`. */
interface Node {
  readonly type: string;
  readonly value?: unknown;
  readonly position?: number;
  readonly steps?: readonly Node[];
  readonly stages?: readonly Stage[];
  readonly predicate?: readonly Stage[];
  readonly expressions?: readonly Node[];
  readonly expression?: Node;
  readonly lhs?: Node | readonly (readonly [Node, Node])[];
  readonly rhs?: Node;
  readonly condition?: Node;
  readonly then?: Node;
  readonly else?: Node;
  readonly procedure?: Node;
  readonly arguments?: readonly Node[];
  readonly keepArray?: boolean;
  readonly consarray?: boolean;
  readonly keepSingletonArray?: boolean;
  readonly group?: unknown;
  readonly tuple?: unknown;
  readonly focus?: unknown;
  readonly index?: unknown;
  readonly ancestor?: unknown;
  readonly seekingParent?: unknown;
}

interface Stage {
  readonly type: string;
  readonly expr?: Node;
}

/** Why an expression is not compiled; internal, for diagnostics and tests. */
export class NotCompiled {
  constructor(readonly reason: string) {}
}

// Closures nest as deep as the AST; past this the expression is unusual enough to leave to jsonata.
const MAX_COMPILED_DEPTH = 200;

/** Compile a jsonata AST, or say why not. */
export function compileAst(ast: unknown): Code | NotCompiled {
  if (NATIVES.size === 0) return new NotCompiled('jsonata built-ins could not be captured');
  try {
    return compileNode(ast as Node, 0);
  } catch (error) {
    // An AST shape the compiler did not expect is jsonata's to evaluate, not a reason to refuse the expression.
    return error instanceof NotCompiled ? error : new NotCompiled(`unexpected AST: ${String(error)}`);
  }
}

function refuse(reason: string): never {
  throw new NotCompiled(reason);
}

/** jsonata evaluate(): the node itself, then its predicates, then the sequence normalisation. */
function compileNode(node: Node, depth: number): Code {
  if (depth > MAX_COMPILED_DEPTH) refuse('nesting deeper than the compiler handles');
  if (node.group !== undefined && node.type !== 'path') refuse('group-by');
  if (node.tuple !== undefined || node.focus !== undefined || node.index !== undefined) refuse('@ or # binding');
  if (node.ancestor !== undefined || node.seekingParent !== undefined) refuse('parent operator %');
  const core = compileCore(node, depth + 1);
  const filters = node.predicate?.map((stage) => compileFilter(stage, depth + 1));
  const keepArray = node.keepArray === true;
  if (filters === undefined || filters.length === 0) {
    return (input, scope) => normalize(core(input, scope), keepArray);
  }
  return (input, scope) => {
    let result = core(input, scope);
    for (const filter of filters) result = filter(result, scope);
    return normalize(result, keepArray);
  };
}

/** The tail of jsonata evaluate(): an empty sequence is undefined, a singleton is its item (unless kept). */
function normalize(result: unknown, keepArray: boolean): unknown {
  if (isSequence(result) && !result.tupleStream) {
    if (keepArray) result.keepSingleton = true;
    if (result.length === 0) return undefined;
    if (result.length === 1) return result.keepSingleton ? result : result[0];
  }
  return result;
}

function compileCore(node: Node, depth: number): Code {
  switch (node.type) {
    case 'path':
      return compilePath(node, depth);
    case 'name': {
      const key = node.value;
      if (typeof key !== 'string') refuse('name that is not a string');
      return (input, scope) => lookup(input, key, scope.budget);
    }
    case 'string':
    case 'number':
    case 'value': {
      const value = node.value;
      return () => value;
    }
    case 'wildcard':
      return evaluateWildcard;
    case 'descendant':
      return evaluateDescendants;
    case 'variable':
      return compileVariable(node);
    case 'condition':
      return compileCondition(node, depth);
    case 'block':
      return compileBlock(node, depth);
    case 'unary':
      return compileUnary(node, depth);
    case 'binary':
      return compileBinary(node, depth);
    case 'function':
      return compileCall(node, undefined, depth);
    case 'apply': {
      const rhs = node.rhs;
      if (rhs?.type !== 'function') refuse('~> to something other than a function call');
      if (!(node.lhs && !Array.isArray(node.lhs))) refuse('malformed ~>');
      return compileCall(rhs, compileNode(node.lhs as Node, depth), depth);
    }
    default:
      return refuse(`${node.type} expressions`);
  }
}

/** evaluatePath (without tuple streams, which the compiler refuses). */
function compilePath(node: Node, depth: number): Code {
  const steps = node.steps;
  if (!steps || steps.length === 0) refuse('empty path');
  if (node.group !== undefined) refuse('group-by');
  if (node.tuple !== undefined) refuse('tuple stream');
  for (const step of steps) {
    if (step.type === 'sort') refuse('order-by');
    if (step.type === 'parent') refuse('parent operator %');
  }
  const absolute = steps[0]?.type === 'variable';
  const last = steps.length - 1;
  const codes = steps.map((step, index) => {
    const code = compileNode(step, depth);
    if (index === 0 && step.consarray) return { code, stages: undefined, consarray: true, grows: true };
    const stages = step.stages?.map((stage) => compileFilter(stage, depth));
    // A field lookup yields parts of what it is given (and a filter fewer of them): it cannot grow the data.
    return { code, stages, consarray: false, grows: step.type !== 'name' };
  });
  const keepSingletonArray = node.keepSingletonArray === true;
  const general: Code = (input, scope) => {
    let inputSequence: unknown[] = Array.isArray(input) && !absolute ? input : sequenceOf(input);
    let resultSequence: unknown[] | undefined;
    for (let index = 0; index <= last; index++) {
      // biome-ignore lint/style/noNonNullAssertion: index is within codes by the loop bound
      const step = codes[index]!;
      resultSequence = step.consarray
        ? (step.code(inputSequence, scope) as unknown[] | undefined)
        : evaluateStep(step.code, step.stages, inputSequence, scope, index === last, step.grows);
      if (resultSequence === undefined || resultSequence.length === 0) break;
      inputSequence = resultSequence;
    }
    if (keepSingletonArray) {
      let kept = resultSequence as Sequence;
      if (Array.isArray(kept) && kept.cons && !kept.sequence) kept = sequenceOf(kept);
      // jsonata sets the flag even when the path produced nothing (and fails on undefined): so do we, and bail.
      if (kept === undefined) throw BAIL;
      kept.keepSingleton = true;
      return kept;
    }
    return resultSequence;
  };
  const names = plainNames(node);
  return names === undefined ? general : fieldChain(names, general);
}

/** The field names of a path made only of plain names (`data.hygrometer.temperature`), else undefined. */
function plainNames(node: Node): string[] | undefined {
  if (node.keepSingletonArray === true || node.keepArray === true) return undefined;
  const names: string[] = [];
  for (const step of node.steps ?? []) {
    if (step.type !== 'name' || typeof step.value !== 'string') return undefined;
    if (step.stages !== undefined || step.predicate !== undefined || step.keepArray === true) return undefined;
    if (step.consarray === true || step.group !== undefined || step.tuple !== undefined) return undefined;
    if (step.focus !== undefined || step.index !== undefined || step.ancestor !== undefined) return undefined;
    names.push(step.value);
  }
  return names;
}

/**
 * The common case of a path, without its sequences: walking plain objects field by field gives exactly what
 * evaluatePath gives (a singleton sequence, unwrapped by evaluate, or nothing). Any array on the way (input,
 * intermediate or final value) needs jsonata's mapping and flattening: the general closure takes over.
 */
function fieldChain(names: readonly string[], general: Code): Code {
  return (input, scope) => {
    let value = input;
    for (const name of names) {
      if (Array.isArray(value)) return general(input, scope);
      if (value === null || typeof value !== 'object' || !Object.hasOwn(value, name)) {
        return undefined;
      }
      if (isFunction(value)) return undefined;
      value = (value as Record<string, unknown>)[name];
      if (value === undefined) return undefined;
    }
    return Array.isArray(value) ? general(input, scope) : value;
  };
}

type Filter = (input: unknown, scope: Scope) => unknown;

/** evaluateStep: map the step over the input sequence, filter, then flatten one level. */
function evaluateStep(
  code: Code,
  stages: readonly Filter[] | undefined,
  input: readonly unknown[],
  scope: Scope,
  lastStep: boolean,
  grows: boolean,
): Sequence {
  const budget = scope.budget;
  const result = createSequence();
  for (let index = 0; index < input.length; index++) {
    tick(budget);
    let value = code(input[index], scope);
    if (stages !== undefined) for (const stage of stages) value = stage(value, scope);
    if (value !== undefined) push(result, value, budget);
  }
  const first = result[0];
  if (lastStep && result.length === 1 && Array.isArray(first) && !isSequence(first)) {
    return grows ? checkGrowth(first as Sequence, budget) : (first as Sequence);
  }
  const resultSequence = createSequence();
  for (const value of result) {
    if (!Array.isArray(value) || (value as Sequence).cons) {
      push(resultSequence, value, budget);
    } else {
      for (let index = 0; index < value.length; index++) push(resultSequence, value[index], budget);
    }
  }
  // Each item is bounded where it was built, but a step maps over many: the sequence is measured as a whole.
  return grows ? checkGrowth(resultSequence, budget) : resultSequence;
}

/** evaluateFilter: a [predicate] as an index (number, or numbers) or as a boolean test per item. */
function compileFilter(stage: Stage, depth: number): Filter {
  if (stage.type !== 'filter' || stage.expr === undefined) refuse(`${stage.type} stage`);
  const predicate = stage.expr;
  if (predicate.type === 'number') {
    const literal = predicate.value as number;
    return (value) => {
      let results: unknown[] = createSequence();
      const input = Array.isArray(value) ? value : sequenceOf(value);
      let index = Math.floor(literal);
      if (index < 0) index = input.length + index;
      const item = input[index];
      if (item !== undefined) {
        if (Array.isArray(item)) results = item;
        else results.push(item);
      }
      return results;
    };
  }
  const code = compileNode(predicate, depth);
  return (value, scope) => {
    const budget = scope.budget;
    const results = createSequence();
    const input = Array.isArray(value) ? value : sequenceOf(value);
    for (let index = 0; index < input.length; index++) {
      tick(budget);
      const item = input[index];
      let res = code(item, scope);
      if (isNumeric(res)) res = [res];
      if (isArrayOfNumbers(res)) {
        for (const position of res as number[]) {
          let wanted = Math.floor(position);
          if (wanted < 0) wanted = input.length + wanted;
          if (wanted === index) push(results, item, budget);
        }
      } else if (toBoolean(res)) {
        push(results, item, budget);
      }
    }
    return results;
  };
}

/** evaluateVariable: `$` is the context, `$$` the root, anything else comes from the caller's bindings. */
function compileVariable(node: Node): Code {
  const name = node.value;
  if (typeof name !== 'string') refuse('variable without a name');
  if (name === '') {
    return (input) => (input && (input as Sequence).outerWrapper ? (input as Sequence)[0] : input);
  }
  if (name === '$') return (_input, scope) => scope.root;
  // A jsonata built-in ($string, $now, ...) used as a value is a function: not modelled here.
  const builtIn = staticName(name);
  return (_input, scope) => {
    const bindings = scope.bindings;
    if (bindings !== undefined && Object.prototype.propertyIsEnumerable.call(bindings, name)) {
      const value = bindings[name];
      if (isFunction(value)) throw BAIL;
      return value;
    }
    if (builtIn) throw BAIL;
    return undefined;
  };
}

/** evaluateCondition */
function compileCondition(node: Node, depth: number): Code {
  if (!node.condition || !node.then) refuse('malformed condition');
  const condition = compileNode(node.condition, depth);
  const then = compileNode(node.then, depth);
  const otherwise = node.else === undefined ? undefined : compileNode(node.else, depth);
  return (input, scope) => {
    if (toBoolean(condition(input, scope))) return then(input, scope);
    return otherwise === undefined ? undefined : otherwise(input, scope);
  };
}

/** evaluateBlock: ( a; b; c ) evaluates each and yields the last (no bindings in the compiled subset). */
function compileBlock(node: Node, depth: number): Code {
  const expressions = (node.expressions ?? []).map((expression) => compileNode(expression, depth));
  return (input, scope) => {
    let result: unknown;
    for (const expression of expressions) result = expression(input, scope);
    return result;
  };
}

/** evaluateUnary: negation, array constructor, object constructor. */
function compileUnary(node: Node, depth: number): Code {
  switch (node.value) {
    case '-': {
      if (!node.expression) refuse('malformed negation');
      const operand = compileNode(node.expression, depth);
      return (input, scope) => {
        const value = operand(input, scope);
        if (value === undefined) return undefined;
        if (isNumeric(value)) return -value;
        throw BAIL;
      };
    }
    case '[': {
      const items = (node.expressions ?? []).map((item) => ({
        code: compileNode(item, depth),
        nested: item.value === '[',
      }));
      const consarray = node.consarray === true;
      return (input, scope) => {
        let result: unknown[] = [];
        for (const item of items) {
          const value = item.code(input, scope);
          if (value === undefined) continue;
          if (item.nested) push(result, value, scope.budget);
          else result = append(result, value, scope.budget) as unknown[];
        }
        if (consarray) Object.defineProperty(result, 'cons', { enumerable: false, configurable: false, value: true });
        return checkGrowth(result, scope.budget);
      };
    }
    case '{':
      return compileObject(node, depth);
    default:
      return refuse(`unary ${String(node.value)}`);
  }
}

/** evaluateGroupExpression for a literal object constructor { key: value, ... } */
function compileObject(node: Node, depth: number): Code {
  const pairs = node.lhs;
  if (!Array.isArray(pairs)) refuse('malformed object constructor');
  const typed = pairs as readonly (readonly [Node, Node])[];
  const compiled = typed.map(([key, value]) => ({
    key: compileNode(key, depth),
    value: compileNode(value, depth),
  }));
  const general: Code = (value, scope) => {
    const budget = scope.budget;
    const result: Record<string, unknown> = Object.create(null);
    const groups: Record<string, { data: unknown; exprIndex: number }> = Object.create(null);
    const input: unknown[] = Array.isArray(value) ? value : sequenceOf(value);
    // jsonata pushes an undefined item into an empty input so that a literal object is still produced.
    if (input.length === 0) input.push(undefined);
    for (const item of input) {
      tick(budget);
      for (let pairIndex = 0; pairIndex < compiled.length; pairIndex++) {
        // biome-ignore lint/style/noNonNullAssertion: pairIndex is within compiled by the loop bound
        const key = compiled[pairIndex]!.key(item, scope);
        if (key === undefined) continue;
        // T1003 (key not a string), D1013 (reserved key), D1009 (duplicate key): jsonata reports them.
        if (typeof key !== 'string' || key === '_jsonata_lambda' || key === '_jsonata_function') throw BAIL;
        const group = groups[key];
        if (group !== undefined) {
          if (group.exprIndex !== pairIndex) throw BAIL;
          group.data = append(group.data, item, budget);
        } else {
          groups[key] = { data: item, exprIndex: pairIndex };
        }
      }
    }
    for (const key of Object.keys(groups)) {
      // biome-ignore lint/style/noNonNullAssertion: key comes from Object.keys(groups)
      const group = groups[key]!;
      // biome-ignore lint/style/noNonNullAssertion: exprIndex is an index into compiled
      const item = compiled[group.exprIndex]!.value(group.data, scope);
      if (item !== undefined) result[key] = item;
    }
    return checkGrowth(result, budget);
  };
  const keys = literalKeys(typed);
  if (keys === undefined) return general;
  const values = compiled.map((pair) => pair.value);
  // One input item and distinct literal keys: grouping has nothing to group, so each value is evaluated on the
  // item directly. The result is the same object: Object.keys orders integer-like keys first either way.
  return (value, scope) => {
    if (Array.isArray(value)) return general(value, scope);
    const result: Record<string, unknown> = Object.create(null);
    for (let index = 0; index < keys.length; index++) {
      // biome-ignore lint/style/noNonNullAssertion: index is within values by the loop bound
      const item = values[index]!(value, scope);
      // biome-ignore lint/style/noNonNullAssertion: keys and values have the same length
      if (item !== undefined) result[keys[index]!] = item;
    }
    return checkGrowth(result, scope.budget);
  };
}

/** The keys of an object constructor when all are distinct string literals jsonata accepts, else undefined. */
function literalKeys(pairs: readonly (readonly [Node, Node])[]): string[] | undefined {
  const keys: string[] = [];
  for (const [key] of pairs) {
    if (key.type !== 'string' || typeof key.value !== 'string') return undefined;
    if (key.predicate !== undefined || key.keepArray === true || key.group !== undefined) return undefined;
    if (key.value === '_jsonata_lambda' || key.value === '_jsonata_function' || keys.includes(key.value)) {
      return undefined;
    }
    keys.push(key.value);
  }
  return keys;
}

/** evaluateBinary and the operator functions it dispatches to. */
function compileBinary(node: Node, depth: number): Code {
  const lhsNode = node.lhs;
  if (!lhsNode || Array.isArray(lhsNode) || !node.rhs) refuse('malformed binary operator');
  const lhs = compileNode(lhsNode as Node, depth);
  const rhs = compileNode(node.rhs, depth);
  switch (node.value) {
    case 'and':
      return (input, scope) => boolize(lhs(input, scope)) && boolize(rhs(input, scope));
    case 'or':
      return (input, scope) => boolize(lhs(input, scope)) || boolize(rhs(input, scope));
    case '+':
      return (input, scope) => numeric(lhs(input, scope), rhs(input, scope), add);
    case '-':
      return (input, scope) => numeric(lhs(input, scope), rhs(input, scope), subtract);
    case '*':
      return (input, scope) => numeric(lhs(input, scope), rhs(input, scope), multiply);
    case '/':
      return (input, scope) => numeric(lhs(input, scope), rhs(input, scope), divide);
    case '%':
      return (input, scope) => numeric(lhs(input, scope), rhs(input, scope), remainder);
    case '=':
      return (input, scope) => {
        const left = lhs(input, scope);
        const right = rhs(input, scope);
        return left !== undefined && right !== undefined && isDeepEqual(left, right);
      };
    case '!=':
      return (input, scope) => {
        const left = lhs(input, scope);
        const right = rhs(input, scope);
        return left !== undefined && right !== undefined && !isDeepEqual(left, right);
      };
    case '<':
      return (input, scope) => compare(lhs(input, scope), rhs(input, scope), (a, b) => a < b);
    case '<=':
      return (input, scope) => compare(lhs(input, scope), rhs(input, scope), (a, b) => a <= b);
    case '>':
      return (input, scope) => compare(lhs(input, scope), rhs(input, scope), (a, b) => a > b);
    case '>=':
      return (input, scope) => compare(lhs(input, scope), rhs(input, scope), (a, b) => a >= b);
    case '&':
      return (input, scope) => {
        const left = lhs(input, scope);
        const right = rhs(input, scope);
        return checkGrowth(
          (left === undefined ? '' : toText(left)).concat(right === undefined ? '' : toText(right)),
          scope.budget,
        );
      };
    case 'in':
      return (input, scope) => {
        const left = lhs(input, scope);
        const right = rhs(input, scope);
        if (left === undefined || right === undefined) return false;
        const list = Array.isArray(right) ? right : [right];
        for (let index = 0; index < list.length; index++) if (list[index] === left) return true;
        return false;
      };
    default:
      // '..' (ranges) stays with jsonata: its size checks and errors are easiest to keep exact there.
      return refuse(`operator ${String(node.value)}`);
  }
}

/**
 * Where a value can outgrow its input: a path step maps over a sequence, and a constructor or a built-in such as
 * `$zip` may repeat what it is given: `data.items.[$, $].[$, $]` shares what it repeats, so its JSON doubles with
 * every step while memory does not, until `$string`, a lookup or the delivery walks it. Steps, constructors,
 * built-ins and `&` are measured (sizes memoised, so each container is walked once); the fallback checks every
 * node's result the same way (guardGrowth).
 */
function checkGrowth<T>(value: T, budget: Budget): T {
  if (typeof value === 'string') {
    if (value.length > budget.maxIntermediate) {
      throw new LimitExceeded(`a string grew beyond ${budget.maxIntermediate} characters`);
    }
  } else if (approximateSize(value, budget.maxIntermediate, budget.sizes) > budget.maxIntermediate) {
    throw new LimitExceeded(`a value grew beyond ${budget.maxIntermediate} bytes`);
  }
  return value;
}

/** boolize: the effective boolean value, undefined counting as false. */
function boolize(value: unknown): boolean {
  return toBoolean(value) ?? false;
}

const add = (a: number, b: number): number => a + b;
const subtract = (a: number, b: number): number => a - b;
const multiply = (a: number, b: number): number => a * b;
const divide = (a: number, b: number): number => a / b;
const remainder = (a: number, b: number): number => a % b;

/** evaluateNumericExpression: T2001/T2002 for non-numbers (left to jsonata), undefined if a side is missing. */
function numeric(left: unknown, right: unknown, operation: (a: number, b: number) => number): number | undefined {
  if (left !== undefined && !isNumeric(left)) throw BAIL;
  if (right !== undefined && !isNumeric(right)) throw BAIL;
  if (left === undefined || right === undefined) return undefined;
  return operation(left, right);
}

/** evaluateComparisonExpression: strings with strings, numbers with numbers, anything else is T2009/T2010. */
function compare(
  left: unknown,
  right: unknown,
  operation: (a: string | number, b: string | number) => boolean,
): boolean | undefined {
  const ltype = typeof left;
  const rtype = typeof right;
  const lcomparable = ltype === 'undefined' || ltype === 'string' || ltype === 'number';
  const rcomparable = rtype === 'undefined' || rtype === 'string' || rtype === 'number';
  if (!lcomparable || !rcomparable) throw BAIL;
  if (left === undefined || right === undefined) return undefined;
  if (ltype !== rtype) throw BAIL;
  return operation(left as string | number, right as string | number);
}

/** evaluateWildcard: the values of every field, arrays flattened. */
function evaluateWildcard(value: unknown, scope: Scope): unknown {
  const budget = scope.budget;
  let results: unknown[] = createSequence();
  let input = value;
  if (Array.isArray(input) && (input as Sequence).outerWrapper && input.length > 0) input = input[0];
  if (input !== null && typeof input === 'object' && !isFunction(input)) {
    for (const key of Object.keys(input)) {
      const field = (input as Record<string, unknown>)[key];
      if (Array.isArray(field)) results = append(results, flatten(field), budget) as unknown[];
      else push(results, field, budget);
    }
  }
  return results;
}

/** evaluateDescendants: every value below the input, depth first. */
function evaluateDescendants(input: unknown, scope: Scope): unknown {
  if (input === undefined) return undefined;
  const results = createSequence();
  collectDescendants(input, results, scope.budget);
  return results.length === 1 ? results[0] : results;
}

function collectDescendants(input: unknown, results: Sequence, budget: Budget): void {
  if (Array.isArray(input)) {
    for (const member of input) collectDescendants(member, results, budget);
    return;
  }
  push(results, input, budget);
  if (input !== null && typeof input === 'object' && !isFunction(input)) {
    for (const key of Object.keys(input)) collectDescendants((input as Record<string, unknown>)[key], results, budget);
  }
}

/**
 * evaluateFunction + apply for a built-in: arguments evaluated in order, validated by jsonata's own signature
 * (which substitutes the context for a missing first argument and wraps singletons into arrays), then jsonata's
 * own implementation. With `~>` the left side is the first argument.
 */
function compileCall(node: Node, applyTo: Code | undefined, depth: number): Code {
  const procedure = node.procedure;
  if (procedure?.type !== 'variable' || typeof procedure.value !== 'string') refuse('call of a computed function');
  if (procedure.predicate !== undefined || procedure.keepArray === true) refuse('call of a filtered function');
  const name = procedure.value;
  const native = NATIVES.get(name);
  if (native === undefined) refuse(`$${name}()`);
  const args = (node.arguments ?? []).map((argument) => compileNode(argument, depth));
  const implement = name === 'contains' ? containsString : invoke(native);
  return (input, scope) => {
    const bindings = scope.bindings;
    if (bindings !== undefined && Object.prototype.propertyIsEnumerable.call(bindings, name)) throw BAIL;
    const evaluated: unknown[] = [];
    if (applyTo !== undefined) evaluated.push(applyTo(input, scope));
    for (const argument of args) {
      const value = argument(input, scope);
      if (isFunction(value)) throw BAIL;
      evaluated.push(value);
    }
    const validated = native.signature === undefined ? evaluated : native.signature.validate(evaluated, input);
    return implement(validated, scope);
  };
}

function invoke(native: NativeFunction): (args: unknown[], scope: Scope) => unknown {
  return (args, scope) => {
    const result = native.implementation.apply(scope.focus, args);
    if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
      (result as Promise<unknown>).catch(() => undefined);
      throw BAIL;
    }
    return result !== null && (typeof result === 'string' || typeof result === 'object')
      ? checkGrowth(result, scope.budget)
      : result;
  };
}

/** functions.contains for a string token; the regex form (a function token) is async in jsonata. */
function containsString(args: unknown[]): unknown {
  const [text, token] = args;
  if (text === undefined || token === undefined) return undefined;
  if (typeof token !== 'string' || typeof text !== 'string') throw BAIL;
  return text.indexOf(token) !== -1;
}

/** Build the `this` jsonata gives built-ins, with its createSequence bounded as `options.sequence` does. */
export function createFocus(maxSequence: number): NativeFocus {
  return {
    environment: undefined,
    input: undefined,
    options: { sequence: maxSequence },
    createSequence(...items: unknown[]): Sequence {
      const sequence = createSequence();
      const nativePush = sequence.push.bind(sequence);
      // Not enumerable (jsonata's is): the result stays a clean array for whoever reads it next.
      Object.defineProperty(sequence, 'push', {
        value: (...values: unknown[]): number => {
          if (sequence.length + values.length > maxSequence) {
            throw new LimitExceeded(`a sequence grew beyond ${maxSequence} items`);
          }
          return nativePush(...values);
        },
      });
      if (items.length === 1) sequence.push(items[0]);
      return sequence;
    },
  };
}
