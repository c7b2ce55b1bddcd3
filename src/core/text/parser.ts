/**
 * Reads the ONNX textual syntax (onnx docs/Syntax.md) back into a graph structure: the header,
 * typed inputs and outputs, initializer types, and nodes with their attributes and sub-graphs.
 * Tensor values are not reconstructed (the printer summarises them). The editor uses this to
 * check what it shows; tests use it to prove the printer loses no structure.
 *
 * Besides Syntax.md, it reads the printer's module scopes: a line `…/ = "/layer1/layer1.0"` in a
 * node list, after which `…/conv1/Conv` is the name `/layer1/layer1.0/conv1/Conv`, and an output
 * `…_output_0` on the line of node N, the name `N_output_0` (names.ts).
 */
import { ELISION, OWN_OUTPUT, expandName } from './names';

export class TextSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line + 1}: ${message}`);
    this.name = 'TextSyntaxError';
  }
}

export interface TextType {
  readonly text: string;
}

export interface TextValue {
  readonly name: string;
  readonly type: string;
}

export type TextAttributeValue =
  number | string | TextGraph | readonly (number | string | TextGraph)[];

export interface TextNode {
  readonly name: string;
  readonly op: string;
  readonly domain: string;
  readonly inputs: string[];
  readonly outputs: string[];
  readonly attributes: Map<string, TextAttributeValue>;
  readonly line: number;
}

export interface TextGraph {
  readonly name: string;
  readonly inputs: TextValue[];
  readonly outputs: TextValue[];
  readonly initializers: TextValue[];
  readonly nodes: TextNode[];
}

export interface TextModel {
  readonly header: Map<string, string>;
  readonly graph: TextGraph;
}

type TokenKind = 'id' | 'string' | 'number' | 'punct' | 'elided' | 'end';
interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  readonly line: number;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let line = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '\n') {
      line++;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r') i++;
    else if (c === '#') while (i < text.length && text[i] !== '\n') i++;
    else if (c === '"') {
      let value = '';
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length) {
          const next = text[i + 1];
          value += next === 'n' ? '\n' : next;
          i += 2;
        } else value += text[i++];
      }
      if (i >= text.length) throw new TextSyntaxError('unterminated string', line);
      i++;
      tokens.push({ kind: 'string', text: value, line });
    } else if (text.startsWith(OWN_OUTPUT, i)) {
      const rest = /^[A-Za-z0-9_.]*/.exec(text.slice(i + OWN_OUTPUT.length, i + 4096))![0];
      tokens.push({ kind: 'elided', text: OWN_OUTPUT + rest, line });
      i += OWN_OUTPUT.length + rest.length;
    } else if (text.startsWith(ELISION, i)) {
      // `…/rest`, a name relative to the node list's scope; `…/` alone opens a scope line.
      const rest = /^[A-Za-z0-9_.\-/]*/.exec(text.slice(i + ELISION.length, i + 4096))![0];
      tokens.push({ kind: 'elided', text: ELISION + rest, line });
      i += ELISION.length + rest.length;
    } else if (c === '=' && text[i + 1] === '>') {
      tokens.push({ kind: 'punct', text: '=>', line });
      i += 2;
    } else if ('<>()[]{},=:@'.includes(c)) {
      tokens.push({ kind: 'punct', text: c, line });
      i++;
    } else {
      const m = /^(-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|-?inf|nan)/.exec(text.slice(i, i + 64));
      const word = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(text.slice(i, i + 4096));
      if (m && !(word && word[0].length > m[0].length)) {
        tokens.push({ kind: 'number', text: m[0], line });
        i += m[0].length;
      } else if (word) {
        tokens.push({ kind: 'id', text: word[0], line });
        i += word[0].length;
      } else throw new TextSyntaxError(`unexpected character '${c}'`, line);
    }
  }
  tokens.push({ kind: 'end', text: '', line });
  return tokens;
}

class Parser {
  private pos = 0;
  /** The module scope of the node list being read ('' when none was set). */
  private scope = '';
  constructor(private readonly tokens: Token[]) {}

  peek(offset = 0): Token {
    return this.tokens[Math.min(this.pos + offset, this.tokens.length - 1)];
  }
  next(): Token {
    return this.tokens[this.pos++] ?? this.tokens[this.tokens.length - 1];
  }
  is(text: string): boolean {
    const t = this.peek();
    return t.kind === 'punct' && t.text === text;
  }
  accept(text: string): boolean {
    if (!this.is(text)) return false;
    this.pos++;
    return true;
  }
  expect(text: string): Token {
    const t = this.next();
    if (t.kind !== 'punct' || t.text !== text) {
      throw new TextSyntaxError(`expected '${text}', found '${t.text || 'end of text'}'`, t.line);
    }
    return t;
  }
  name(): string {
    const t = this.next();
    if (t.kind === 'elided' && t.text.startsWith(ELISION) && t.text !== ELISION) {
      if (!this.scope) throw new TextSyntaxError(`'${t.text}' outside a scope`, t.line);
      return expandName(t.text, this.scope);
    }
    if (t.kind !== 'id' && t.kind !== 'string')
      throw new TextSyntaxError(`expected a name, found '${t.text}'`, t.line);
    return t.text;
  }

  model(): TextModel {
    const header = new Map<string, string>();
    if (this.accept('<')) {
      while (!this.accept('>')) {
        const key = this.name();
        this.expect(':');
        header.set(key, this.rawValue());
        this.accept(',');
      }
    }
    const graph = this.graph();
    if (this.peek().kind !== 'end')
      throw new TextSyntaxError(
        `unexpected '${this.peek().text}' after the graph`,
        this.peek().line,
      );
    return { header, graph };
  }

  /** A header value kept as text: a number, a string, or a bracketed list. */
  rawValue(): string {
    if (this.accept('[')) {
      const parts: string[] = [];
      while (!this.accept(']')) {
        parts.push(this.rawValue());
        if (this.accept(':')) parts[parts.length - 1] += ` : ${this.rawValue()}`;
        this.accept(',');
      }
      return `[${parts.join(', ')}]`;
    }
    return this.next().text;
  }

  graph(): TextGraph {
    const name = this.name();
    const inputs = this.valueList('(', ')');
    this.expect('=>');
    const outputs = this.valueList('(', ')');
    const initializers = this.is('<') ? this.valueList('<', '>') : [];
    const nodes: TextNode[] = [];
    this.expect('{');
    const outer = this.scope;
    this.scope = '';
    while (!this.accept('}')) {
      const t = this.peek();
      if (t.kind === 'elided' && t.text === ELISION) {
        this.next();
        this.expect('=');
        const scope = this.next();
        if (scope.kind !== 'string' || !scope.text.startsWith('/'))
          throw new TextSyntaxError(`expected a module path after '${ELISION} ='`, scope.line);
        this.scope = scope.text;
      } else nodes.push(this.node());
    }
    this.scope = outer;
    return { name, inputs, outputs, initializers, nodes };
  }

  valueList(open: string, close: string): TextValue[] {
    this.expect(open);
    const values: TextValue[] = [];
    while (!this.accept(close)) {
      const type = this.type();
      values.push({ type, name: this.name() });
      this.accept(',');
    }
    return values;
  }

  type(): string {
    const base = this.name();
    if (['seq', 'optional', 'sparse_tensor'].includes(base) && this.accept('(')) {
      const inner = this.type();
      this.expect(')');
      return `${base}(${inner})`;
    }
    if (base === 'opaque' && this.accept('(')) {
      while (!this.accept(')')) this.next();
      return 'opaque()';
    }
    if (!this.accept('[')) return base;
    const dims: string[] = [];
    while (!this.accept(']')) {
      dims.push(this.next().text);
      this.accept(',');
    }
    return `${base}[${dims.join(', ')}]`;
  }

  node(): TextNode {
    const line = this.peek().line;
    let name = '';
    if (this.accept('[')) {
      name = this.name();
      this.expect(']');
    }
    const outputs: string[] = [];
    while (!this.is('=')) {
      const t = this.peek();
      if (t.kind === 'elided' && t.text.startsWith(OWN_OUTPUT)) {
        if (!name) throw new TextSyntaxError(`'${t.text}' on a node without a name`, t.line);
        this.next();
        outputs.push(`${name}_${t.text.slice(OWN_OUTPUT.length)}`);
      } else outputs.push(this.name());
      this.accept(',');
    }
    this.expect('=');
    const qualified = this.name();
    const dot = qualified.lastIndexOf('.');
    const op = dot >= 0 ? qualified.slice(dot + 1) : qualified;
    const domain = dot >= 0 ? qualified.slice(0, dot) : '';
    const attributes = new Map<string, TextAttributeValue>();
    if (this.is('<')) this.attributes(attributes);
    const inputs: string[] = [];
    this.expect('(');
    while (!this.accept(')')) {
      inputs.push(this.name());
      this.accept(',');
    }
    if (this.is('<')) this.attributes(attributes);
    return { name, op, domain, inputs, outputs, attributes, line };
  }

  attributes(into: Map<string, TextAttributeValue>): void {
    this.expect('<');
    while (!this.accept('>')) {
      const name = this.name();
      if (this.accept(':')) this.name(); // an explicit attribute type
      this.expect('=');
      into.set(name, this.attributeValue());
      this.accept(',');
    }
  }

  attributeValue(): TextAttributeValue {
    if (this.accept('[')) {
      const values: (number | string | TextGraph)[] = [];
      while (!this.accept(']')) {
        values.push(this.attributeValue() as number | string | TextGraph);
        this.accept(',');
      }
      return values;
    }
    if (this.accept('@')) return `@${this.name()}`;
    const t = this.peek();
    if (t.kind === 'number')
      return Number(this.next().text.replace('inf', 'Infinity').replace('nan', 'NaN'));
    if (t.kind === 'string') return this.next().text;
    // A tensor constant (`int64[2] {1, 2}`) or a sub-graph (`name (inputs) => (outputs) {…}`).
    if (this.peek(1).kind === 'punct' && this.peek(1).text === '(') return this.graph();
    const type = this.type();
    if (this.is('{')) {
      this.expect('{');
      const values: string[] = [];
      while (!this.accept('}')) {
        values.push(this.next().text);
        this.accept(',');
      }
      return `${type} {${values.join(', ')}}`;
    }
    return type;
  }
}

export function parseModelText(text: string): TextModel {
  return new Parser(tokenize(text)).model();
}
