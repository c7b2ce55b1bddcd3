import type { ShapeRule } from '../types';

export const quantizationRules: Record<string, ShapeRule> = {};
