import type { ShapeRule } from '../types';

export const recurrentRules: Record<string, ShapeRule> = {};
