import type { ShapeRule } from '../types';

export const poolRules: Record<string, ShapeRule> = {};
