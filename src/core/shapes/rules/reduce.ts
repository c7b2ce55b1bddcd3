import type { ShapeRule } from '../types';

export const reduceRules: Record<string, ShapeRule> = {};
