import type { ShapeRule } from '../types';

export const miscRules: Record<string, ShapeRule> = {};
