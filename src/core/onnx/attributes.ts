/** Reading a node's attributes by name, with the defaults the operator spec gives. */
import type { Node } from './types';

const decoder = new TextDecoder();

export function intAttr(node: Node, name: string, fallback: number): number {
  return node.attributes.find((a) => a.name === name)?.i ?? fallback;
}

export function stringAttr(node: Node, name: string, fallback: string): string {
  const a = node.attributes.find((x) => x.name === name);
  return a?.s ? decoder.decode(a.s) : fallback;
}

/** The list, or undefined when the attribute is absent (an empty list is a value). */
export function intsAttr(node: Node, name: string): readonly number[] | undefined {
  return node.attributes.find((a) => a.name === name)?.ints;
}
