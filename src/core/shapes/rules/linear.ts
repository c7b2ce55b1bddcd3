import type { ShapeRule } from '../types';

export const linearRules: Record<string, ShapeRule> = {};
