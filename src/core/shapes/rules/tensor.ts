import type { ShapeRule } from '../types';

export const tensorRules: Record<string, ShapeRule> = {};
