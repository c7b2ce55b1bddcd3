import type { ShapeRule } from '../types';

export const elementwiseRules: Record<string, ShapeRule> = {};
