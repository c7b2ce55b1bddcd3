import type { ShapeRule } from '../types';

export const resizeRules: Record<string, ShapeRule> = {};
